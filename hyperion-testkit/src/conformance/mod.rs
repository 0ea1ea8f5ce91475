//! The adapter conformance suite: one set of cases, written once, that
//! every adapter must pass unchanged, over a real loopback socket with a
//! real HTTP client.
//!
//! Proving an adapter takes one "serve this API on this listener under this
//! prefix" function (a [`ServeFn`]) and one line in a test file:
//!
//! ```ignore
//! hyperion_testkit::conformance_suite!(my_serve);
//! ```
//!
//! Each case becomes its own `#[tokio::test]`, so a failure names itself;
//! `conformance_suite!(with_sqlite_stores my_serve)` runs them again over
//! the durable SQLite stores (feature `sqlite`). The test crate needs `tokio` (features
//! `macros` and `rt-multi-thread`) among its dev-dependencies.

mod cases;
mod harness;

pub use harness::{
    BODY_LIMIT, FIXTURE_KEYS, Keys, MAX_ACTIVE_KEYS_PER_OWNER, NESTED_PREFIX, NODE_DEADLINE, Reply,
    SPEC, SUSPENDED, ServeFn, Stores, TRUSTED_PROXY, TestServer, domain, fixture_actor,
    fixture_config, hosting_id,
};

/// The WordPress admin password the provisioning cases send: it must never
/// come back in an answer, a job, a log or an audit event.
pub const WP_PASSWORD: &str = cases::WP_PASSWORD;

/// Every case, by name: the macros below expand one test per case, and the
/// re-export checks that no case is written and then forgotten (a case
/// missing from this list is dead code, which CI refuses).
#[doc(hidden)]
#[macro_export]
macro_rules! __every_conformance_case {
    ($($mode:tt)*) => {
        $crate::__conformance_expand! { [$($mode)*]
        // authentication and capability matrix
        no_key_is_401_everywhere,
        malformed_authorization_is_401_everywhere,
        unknown_key_is_401_everywhere,
        revoked_key_is_401_everywhere,
        expired_key_is_401_everywhere,
        key_lacking_capabilities_is_403_where_one_is_needed,
        demoted_owner_shrinks_the_key_at_once,
        removed_owner_kills_the_key_at_once,
        scope_all_key_reaches_every_endpoint,
        // wire shapes
        me_shows_the_key_and_its_effective_rights,
        hosting_list_has_the_documented_shape,
        hosting_detail_has_the_documented_shape,
        nodes_list_every_node,
        every_answer_reads_back_into_its_type,
        // pagination and filters
        pagination_covers_every_hosting_once_in_order,
        page_size_defaults_and_bounds,
        malformed_cursor_is_a_validation_error,
        filter_by_state,
        filter_by_node,
        filter_by_domain_substring_ignores_case,
        malformed_filters_are_validation_errors,
        // addressing
        id_domain_and_alias_address_the_same_hosting,
        missing_hosting_is_404_by_id_and_by_domain,
        malformed_selectors_are_validation_errors,
        a_nested_mount_keeps_every_link,
        // lifecycle
        suspend_and_resume_are_idempotent,
        delete_runs_a_job_to_success_then_the_hosting_is_gone,
        delete_flags_are_validated,
        unknown_or_malformed_job_ids_are_404,
        // error catalog
        unknown_routes_answer_a_json_404,
        wrong_method_answers_405_with_allow,
        head_answers_as_get_without_a_body,
        request_id_is_echoed_when_sane_and_generated_otherwise,
        audit_request_ids_are_the_servers,
        // tenant keys
        tenant_matrix_scope_all,
        tenant_matrix_manage_grant,
        tenant_matrix_view_grant,
        tenant_matrix_no_grant_is_indistinguishable_from_missing,
        tenant_matrix_grant_without_capability,
        tenant_list_shows_only_granted_hostings,
        cluster_wide_endpoints_need_scope_all,
        jobs_are_read_by_their_starter_or_a_scope_all_key,
        // key management
        minted_key_is_shown_once_and_works_at_once,
        key_lists_are_scoped_to_what_the_caller_minted,
        revoked_key_dies_at_once,
        expiring_key_dies_when_it_expires,
        me_shows_grants_and_expiry,
        minting_never_escalates,
        mint_requests_are_validated,
        // delegation, tenant boundaries and operator decisions (security, part 1)
        minted_keys_stay_inside_their_parents_network_and_rate_limits,
        revoking_a_key_ends_its_whole_minting_chain,
        revoking_needs_the_rights_of_the_key_revoked,
        a_key_never_turns_on_the_keys_that_minted_it,
        audit_actors_cannot_be_impersonated,
        minting_is_capped_per_owner,
        a_failing_node_tells_a_tenant_nothing,
        names_cannot_be_taken_across_tenants,
        tenant_reverse_proxies_cannot_point_inside,
        operator_decisions_stay_the_operators,
        reading_a_job_needs_a_capability,
        idempotent_replays_recheck_the_caller,
        // provisioning and operations
        create_answers_201_with_the_hosting_and_its_location,
        default_placement_spreads_over_the_least_loaded_nodes,
        explicit_placement_and_draining_nodes,
        create_validation_names_the_field,
        create_of_an_existing_name_is_a_conflict,
        idempotent_create_replays_and_never_creates_twice,
        idempotent_job_posts_start_one_job,
        a_tenants_new_hosting_is_granted_to_it,
        config_patches_answer_the_new_value,
        config_patches_refuse_bad_values,
        backup_then_restore_through_jobs,
        certificate_job_reports_the_certificate,
        wordpress_install_never_shows_the_password,
        renew_all_sweeps_every_node_and_reports_each,
        // the panel's customers
        hostings_carry_owner_plan_and_labels_and_lists_filter_on_them,
        the_operator_changes_owner_plan_and_labels_audited,
        an_owner_scoped_key_reaches_its_customer_and_nothing_else,
        an_owner_scoped_key_creates_for_its_customer_only,
        an_owner_scoped_key_cannot_widen_through_children,
        a_down_node_tells_an_owner_scoped_key_nothing,
        // hardening
        spoofed_forwarding_headers_cannot_pass_an_allowlist,
        a_trusted_proxy_forwards_the_client_address,
        the_client_cannot_choose_its_address_behind_a_proxy,
        rate_limits_say_the_true_wait,
        a_hung_node_costs_at_most_the_deadline,
        a_failing_node_is_a_502_and_lists_go_on,
        a_panicking_endpoint_is_a_500_and_the_server_goes_on,
        bodies_over_the_limit_are_413_without_being_read,
        bodies_are_not_read_before_the_capability_is_checked,
        unfinished_bodies_are_bounded_in_bytes_and_time,
        one_tenant_cannot_starve_the_body_budget,
        the_audit_log_shows_who_did_what_and_who_was_refused,
        a_flood_of_bogus_keys_is_counted_not_recorded,
        a_tenants_refusals_are_counted_not_recorded,
        a_mutation_whose_client_hangs_up_still_ends_and_is_audited,
        hostile_inputs_answer_4xx_envelopes,
        // the contract
        the_contract_is_served_without_a_key,
        }
    };
}

/// One expansion per mode; see [`conformance_suite!`](crate::conformance_suite).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_expand {
    ([reexport] $($case:ident),* $(,)?) => {
        pub use super::cases::{$($case),*};
        /// How many cases the suite holds.
        pub const CASE_COUNT: usize = [$(stringify!($case)),*].len();
    };
    ([each $serve:path, $stores:expr] $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let server = $crate::conformance::TestServer::start_with(
                    |api, listener, prefix| ::std::boxed::Box::pin($serve(api, listener, prefix)),
                    $stores,
                )
                .await;
                $crate::conformance::__cases::$case(&server).await;
            }
        )*
    };
    ([sequential $serve:path, $before:path, $after:path] $($case:ident),* $(,)?) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn every_case_in_one_run() {
            $before();
            $(
                let server = $crate::conformance::TestServer::start(
                    |api, listener, prefix| ::std::boxed::Box::pin($serve(api, listener, prefix)),
                )
                .await;
                $crate::conformance::__cases::$case(&server).await;
                drop(server);
            )*
            $after();
        }
    };
}

/// Every case, reachable by the macros; not an API of its own.
#[doc(hidden)]
pub mod __cases {
    crate::__every_conformance_case!(reexport);
}

/// How many cases the suite holds (each becomes one test).
pub const CASE_COUNT: usize = __cases::CASE_COUNT;

/// Instantiates every conformance case for one adapter's serve function
/// (an `async fn(HyperionApi, TcpListener, &'static str)`, see [`ServeFn`]):
///
/// - `conformance_suite!(serve)` makes one `#[tokio::test]` per case, over
///   the in-memory stores;
/// - `conformance_suite!(with_sqlite_stores serve)` does the same over the
///   durable SQLite stores, each test in a fresh directory (feature
///   `sqlite` of this crate);
/// - `conformance_suite!(with_postgres_stores serve)` does the same over the
///   shared PostgreSQL stores, each test in a fresh schema of the test
///   database (feature `postgres` of this crate; see
///   [`crate::postgres::test_database`]: the one `HYPERION_TEST_POSTGRES`
///   names, or a throwaway cluster started from the machine's PostgreSQL;
///   where there is neither, each test fails saying how to enable it);
/// - `conformance_suite!(in_one_test serve, before, after)` runs every case
///   in one test, between `before()` and `after()` (to capture the logs of
///   the whole suite, for instance).
#[macro_export]
macro_rules! conformance_suite {
    (with_sqlite_stores $serve:path) => {
        $crate::__every_conformance_case!(each $serve, $crate::conformance::Stores::Sqlite);
    };
    (with_postgres_stores $serve:path) => {
        $crate::__every_conformance_case!(each $serve, $crate::conformance::Stores::Postgres);
    };
    (in_one_test $serve:path, $before:path, $after:path) => {
        $crate::__every_conformance_case!(sequential $serve, $before, $after);
    };
    ($serve:path) => {
        $crate::__every_conformance_case!(each $serve, $crate::conformance::Stores::Memory);
    };
}
