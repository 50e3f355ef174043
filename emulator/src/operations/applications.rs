//! Applications: create (INITIALIZED -> PROCESSING -> READY), list, get, update, delete
//! (refused while a stream group uses them), and their shader caches.

use super::groups::check_tags;
use super::responses::{application_json, application_summary_json};
use super::{ById, Call, Page, Reply, paginate};
use crate::error::ServiceError;
use crate::state::Application;
use crate::vocabulary::ApplicationStatus;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RuntimeEnvironment {
    #[serde(rename = "Type")]
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateApplicationInput {
    description: String,
    runtime_environment: RuntimeEnvironment,
    executable_path: String,
    application_source_uri: String,
    #[serde(default)]
    application_log_paths: Vec<String>,
    application_log_output_uri: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    client_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateApplicationInput {
    identifier: String,
    description: Option<String>,
    application_log_paths: Option<Vec<String>>,
    application_log_output_uri: Option<String>,
}

/// The model, ApplicationLogOutputUri: "Required if you specify one or more ApplicationLogPaths."
fn check_log_settings(paths: &[String], output: Option<&str>) -> Result<(), ServiceError> {
    if !paths.is_empty() && output.is_none_or(str::is_empty) {
        return Err(ServiceError::validation(
            "ApplicationLogOutputUri is required when ApplicationLogPaths names one or more paths.",
        ));
    }
    Ok(())
}

impl Call<'_> {
    pub(super) fn create_application(&mut self, input: CreateApplicationInput) -> Reply {
        if let Some(id) = input.client_token.as_ref().and_then(|t| self.region_ref()?.application_tokens.get(t)) {
            let id = id.clone();
            return self.get_application(ById { identifier: id });
        }
        if !input.application_source_uri.starts_with("s3://") {
            return Err(ServiceError::validation(format!(
                "ApplicationSourceUri {} must be an Amazon S3 URI (s3://bucket/prefix).",
                input.application_source_uri
            )));
        }
        check_log_settings(&input.application_log_paths, input.application_log_output_uri.as_deref())?;
        check_tags(&input.tags)?;
        let now = self.now();
        let ready = self.world.timings.application_ready;
        let id = self.world.new_id("a-", 9);
        let arn = self.world.arn(&self.region, &format!("application/{id}"));
        let app = Application {
            id: id.clone(),
            arn,
            region: self.region.clone(),
            description: input.description,
            runtime_type: input.runtime_environment.kind,
            runtime_version: input.runtime_environment.version,
            executable_path: input.executable_path,
            source_uri: input.application_source_uri,
            log_paths: input.application_log_paths,
            log_output_uri: input.application_log_output_uri,
            status: ApplicationStatus::Initialized,
            status_reason: None,
            created_at: now,
            last_updated_at: now,
            processing_at: Some(now + ready / 2),
            ready_at: Some(now + ready),
            gone_at: None,
            replication: BTreeMap::new(),
            shader_caches: Vec::new(),
            tags: input.tags,
        };
        let region = self.region();
        if let Some(token) = input.client_token {
            region.application_tokens.insert(token, id.clone());
        }
        region.applications.insert(id.clone(), app);
        self.get_application(ById { identifier: id })
    }

    pub(super) fn list_applications(&mut self, input: Page) -> Reply {
        paginate(
            "ListApplications",
            self.listed_region().applications.values().collect(),
            application_summary_json,
            input,
        )
    }

    pub(super) fn get_application(&mut self, input: ById) -> Reply {
        let app = self.application(&input.identifier)?;
        let region = self.region_ref().expect("application exists");
        Ok(Some(application_json(region, app, self.now())))
    }

    /// The model: "You can change the Description, ApplicationLogOutputUri, and ApplicationLogPaths."
    pub(super) fn update_application(&mut self, input: UpdateApplicationInput) -> Reply {
        let app = self.application(&input.identifier)?;
        let paths = input.application_log_paths.clone().unwrap_or_else(|| app.log_paths.clone());
        let output = input.application_log_output_uri.clone().or_else(|| app.log_output_uri.clone());
        check_log_settings(&paths, output.as_deref())?;
        let now = self.now();
        let id = app.id.clone();
        let app = self.region().applications.get_mut(&id).expect("found above");
        if let Some(description) = input.description {
            app.description = description;
        }
        app.log_paths = paths;
        app.log_output_uri = output.filter(|o| !o.is_empty());
        app.last_updated_at = now;
        self.get_application(ById { identifier: id })
    }

    /// The model: an application can be deleted only in READY or ERROR, when it is nobody's
    /// default, linked to no stream group and streaming nowhere; "If any active stream groups
    /// exist for this application, this request returns a ValidationException."
    pub(super) fn delete_application(&mut self, input: ById) -> Reply {
        let app = self.application(&input.identifier)?;
        if !matches!(app.status, ApplicationStatus::Ready | ApplicationStatus::Error) {
            return Err(self.state_error(format!(
                "Application {} is {}; only an application in READY or ERROR can be deleted.",
                app.id, app.status
            )));
        }
        let region = self.region_ref().expect("application exists");
        let mut users: Vec<&str> = region
            .groups
            .values()
            .filter(|g| g.associated.contains(&app.arn) || g.default_application.as_ref() == Some(&app.arn))
            .map(|g| g.id.as_str())
            .collect();
        users.sort_unstable();
        if !users.is_empty() {
            return Err(ServiceError::validation(format!(
                "Application {} is associated with stream groups [{}]; disassociate it (or delete those groups) first.",
                app.id,
                users.join(", ")
            )));
        }
        if let Some(session) = region.sessions.values().find(|s| s.application_arn == app.arn && !s.status.is_final()) {
            return Err(ServiceError::validation(format!(
                "Application {} is streaming in stream session {}; end it first.",
                app.id, session.id
            )));
        }
        let now = self.now();
        let gone_at = now + self.world.timings.deletion;
        let id = app.id.clone();
        let app = self.region().applications.get_mut(&id).expect("found above");
        app.status = ApplicationStatus::Deleting;
        app.status_reason = None;
        app.last_updated_at = now;
        app.gone_at = Some(gone_at);
        Ok(None)
    }

    pub(super) fn list_shader_caches(&mut self, input: ById) -> Reply {
        let app = self.application(&input.identifier)?;
        let region = self.region_ref().expect("application exists");
        let groups = region.groups_associated_with(&app.arn);
        let items: Vec<_> = app
            .shader_caches
            .iter()
            .map(|cache| {
                json!({
                    "Identifier": cache.id,
                    "ApplicationArn": app.arn,
                    "Status": cache.status.as_str(),
                    "LastUpdatedAt": super::epoch(cache.last_updated_at),
                    "StorageBytes": cache.storage_bytes,
                    "AssociatedStreamGroups": groups,
                })
            })
            .collect();
        Ok(Some(json!({ "Items": items })))
    }
}
