//! The emulator through a second, independent client: boto3, whose botocore carries AWS's own
//! copy of the service model (release 1.44.5, the one `emulator/model/` was taken from).
//! `tests/boto3/every_operation.py` calls every operation of the model and checks each raw
//! response against that model; this test starts the emulator, runs it and reads its report.
//! `scripts/test` installs boto3 (`ensure_boto3_venv`) and sets BOTO3_PYTHON.

use watchdog_tests::{TestEmulator, quick_config};

const FLEET: &str = include_str!("../fleets/emulator-boto3.toml");

fn python() -> String {
    std::env::var("BOTO3_PYTHON")
        .unwrap_or_else(|_| format!("{}/../.venv-boto3/bin/python", env!("CARGO_MANIFEST_DIR")))
}

#[tokio::test]
async fn every_operation_answers_what_botocores_model_says() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let python = python();
    assert!(
        std::path::Path::new(&python).exists(),
        "{python} is missing: scripts/test installs boto3 (source scripts/lib/local-aws.sh; ensure_boto3_venv)"
    );
    let script = format!("{}/boto3/every_operation.py", env!("CARGO_MANIFEST_DIR"));
    let url = emu.url.clone();
    let output = tokio::task::spawn_blocking(move || std::process::Command::new(python).arg(script).arg(url).output())
        .await
        .unwrap()
        .expect("run the boto3 script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no report ({e}); stderr:\n{stderr}\nstdout:\n{stdout}"));
    assert_eq!(report["problems"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["missing"], serde_json::json!([]), "{report:#}");
    // Every operation of the model the emulator bundles: counted from it, not written here.
    let model = gls_emulator::service_model::ServiceModel::load();
    let in_model = model.operation_names().count();
    assert_eq!(report["operations_in_model"], in_model, "boto3's model and the emulator's differ");
    assert_eq!(report["operations_called"], in_model, "the scenario reaches every operation");
    assert!(output.status.success(), "{stderr}");
}
