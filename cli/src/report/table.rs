//! A table described once, column by column (each column's head beside the cell that fills
//! it), and its three renderings: padded text for a terminal, markdown for a ticket, HTML for
//! the report page.

use std::fmt::Write;

/// One column: its head, whether it holds figures (right-aligned in HTML), and how an item of
/// `T` fills it.
pub struct Column<T> {
    pub head: &'static str,
    pub figures: bool,
    pub cell: fn(&T) -> String,
}

impl<T> Column<T> {
    pub fn words(head: &'static str, cell: fn(&T) -> String) -> Self {
        Self { head, figures: false, cell }
    }

    pub fn figures(head: &'static str, cell: fn(&T) -> String) -> Self {
        Self { head, figures: true, cell }
    }
}

/// One row: the stream group it is about (the HTML row's `data-group`) and its cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub group: String,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub head: Vec<&'static str>,
    /// Per column: whether it holds figures.
    pub figures: Vec<bool>,
    pub rows: Vec<Row>,
}

/// One item of a table: the account and the stream group it is about, and what the columns
/// read.
pub struct Item<'a, T> {
    pub account: &'a str,
    pub group: &'a str,
    pub value: T,
}

impl Table {
    /// `columns` filled from `items`, with an account column first when `with_account`.
    pub fn of<'a, T: 'a>(
        with_account: bool,
        columns: &[Column<T>],
        items: impl IntoIterator<Item = Item<'a, T>>,
    ) -> Self {
        let account = with_account.then_some("account");
        let mut table = Table {
            head: account.into_iter().chain(columns.iter().map(|c| c.head)).collect(),
            figures: account.map(|_| false).into_iter().chain(columns.iter().map(|c| c.figures)).collect(),
            rows: Vec::new(),
        };
        for item in items {
            let account = with_account.then(|| item.account.to_owned());
            let cells = account.into_iter().chain(columns.iter().map(|c| (c.cell)(&item.value))).collect();
            table.rows.push(Row { group: item.group.to_owned(), cells });
        }
        table
    }

    /// Columns padded to their widest cell.
    pub fn text(&self) -> String {
        let mut widths: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.cells.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> =
                cells.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = widths[i])).collect();
            padded.join("  ").trim_end().to_owned() + "\n"
        };
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let mut out = line(self.head.clone());
        out += &line(rule.iter().map(String::as_str).collect());
        for row in &self.rows {
            out += &line(row.cells.iter().map(String::as_str).collect());
        }
        out
    }

    /// Pipes between cells, a pipe inside a cell escaped.
    pub fn markdown(&self) -> String {
        let escape = |c: &str| c.replace('|', "\\|");
        let mut out = format!("| {} |\n", self.head.join(" | "));
        out += &format!("|{}\n", "---|".repeat(self.head.len()));
        for row in &self.rows {
            out += &format!("| {} |\n", row.cells.iter().map(|c| escape(c)).collect::<Vec<_>>().join(" | "));
        }
        out
    }

    /// A sortable HTML table with the id `id`, every cell escaped, figures right-aligned.
    pub fn html(&self, id: &str) -> String {
        let mut out = format!("<table class=\"sortable\" id=\"{}\"><thead><tr>", escape_html(id));
        for head in &self.head {
            let _ = write!(out, "<th>{}</th>", escape_html(head));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            let _ = write!(out, "<tr data-group=\"{}\">", escape_html(&row.group));
            for (cell, figures) in row.cells.iter().zip(&self.figures) {
                let class = if *figures { " class=\"n\"" } else { "" };
                let _ = write!(out, "<td{class}>{}</td>", escape_html(cell));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        out
    }
}

/// Text made safe for HTML content and attribute values.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(with_account: bool) -> Table {
        let columns =
            [Column::words("a", |s: &(&str, u32)| s.0.to_owned()), Column::figures("long head", |s| s.1.to_string())];
        let items = [Item { account: "111122223333", group: "sg-1", value: ("wide|cell", 7) }];
        Table::of(with_account, &columns, items)
    }

    #[test]
    fn each_head_stands_over_its_cell_in_every_rendering() {
        let single = table(false);
        assert_eq!(single.text(), "a          long head\n---------  ---------\nwide|cell  7\n");
        assert_eq!(single.markdown(), "| a | long head |\n|---|---|\n| wide\\|cell | 7 |\n");
        assert_eq!(
            single.html("t"),
            "<table class=\"sortable\" id=\"t\"><thead><tr><th>a</th><th>long head</th></tr></thead><tbody><tr data-group=\"sg-1\"><td>wide|cell</td><td class=\"n\">7</td></tr></tbody></table>"
        );
        let spanning = table(true);
        assert_eq!(spanning.head, ["account", "a", "long head"]);
        assert_eq!(spanning.rows[0].cells, ["111122223333", "wide|cell", "7"]);
        assert_eq!(spanning.figures, [false, false, true]);
    }

    #[test]
    fn html_cells_are_escaped() {
        let columns = [Column::words("x", |s: &&str| (*s).to_owned())];
        let items = [Item { account: "", group: "sg-\"", value: "<b>&" }];
        let html = Table::of(false, &columns, items).html("t");
        assert!(html.contains("data-group=\"sg-&quot;\"") && html.contains("<td>&lt;b&gt;&amp;</td>"), "{html}");
    }
}
