"""Fails unless README.md's Mermaid block is docs/architecture.mmd, the diagram's one source."""
import re
import sys

readme = open("README.md", encoding="utf-8").read()
block = re.search(r"```mermaid\n(.*?)```", readme, re.S)
source = open("docs/architecture.mmd", encoding="utf-8").read()
if not block or block.group(1) != source:
    sys.exit("README.md's Mermaid block differs from docs/architecture.mmd: copy one into the other")
