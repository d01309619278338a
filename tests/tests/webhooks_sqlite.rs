//! The webhook store conformance suite on the SQLite store, and its lead-change outbox.
leadpipe_tests::webhook_conformance_suite!(async {
    leadpipe_tests::sqlite_store(leadpipe_core::Settings::default().counter_rules())
});

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_records_lead_changes() {
    leadpipe_tests::webhook_conformance::outbox_records_lead_changes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_records_nothing_without_an_enabled_webhook() {
    leadpipe_tests::webhook_conformance::outbox_records_nothing_without_an_enabled_webhook().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_survives_reopening() {
    leadpipe_tests::webhook_conformance::outbox_survives_reopening().await;
}
