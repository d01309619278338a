//! The conformance suite on the SQLite store.
leadpipe_tests::conformance_suite!(leadpipe_tests::leadpipe(leadpipe_tests::StoreKind::Sqlite));
leadpipe_tests::spend_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Sqlite
));
leadpipe_tests::accounts_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Sqlite
));
leadpipe_tests::audit_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Sqlite
));
leadpipe_tests::revenue_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Sqlite
));
leadpipe_tests::two_factor_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Sqlite
));
