//! Every `meterd_*` family (and the standard `process_*` ones), declared once: name, help, type
//! and label names. Call sites pass the handle
//! (`telemetry::count(store, &catalogue::STATSD_ERRORS, &[("reason", r)], 1.0)`), so a name or
//! help text cannot drift between sites; README's self-metrics table is rendered from
//! [`ALL`] and checked by a test.

use super::Family;

/// Declares each family as a static and lists them all in [`ALL`] (README's order), so a family
/// cannot be declared without being listed.
macro_rules! catalogue {
    ($(
        $(#[$meta:meta])*
        $id:ident = $kind:ident($name:literal, $help:expr, [$($label:literal),*]);
    )*) => {
        $($(#[$meta])* pub static $id: Family = Family::$kind($name, $help, &[$($label),*]);)*

        /// Every family, in the order README lists them.
        pub static ALL: &[&Family] = &[$(&$id),*];
    };
}

catalogue! {
    // StatsD
    STATSD_PACKETS_RECEIVED = counter(
        "meterd_statsd_packets_received",
        "StatsD UDP packets (or TCP line batches, one per read) received.",
        ["transport"]
    );
    STATSD_LINES_RECEIVED = counter(
        "meterd_statsd_lines_received",
        "StatsD lines received (blank lines not counted), valid or not.",
        ["transport"]
    );
    STATSD_ERRORS = counter(
        "meterd_statsd_errors",
        "StatsD lines (or samples of a line) rejected, by reason.",
        ["reason"]
    );
    STATSD_WARNINGS = counter(
        "meterd_statsd_warnings",
        "StatsD lines kept despite a malformed part (as statsd_exporter keeps them), by reason: \
         bad_rate (counted at rate 1), bad_timestamp (dropped), bad_tag (dropped), \
         unpaired_bracket (name kept as sent).",
        ["reason"]
    );
    STATSD_SAMPLES_DROPPED = counter(
        "meterd_statsd_samples_dropped",
        "StatsD samples deliberately not stored, by reason (mapping_drop: an action: drop \
         rule).",
        ["reason"]
    );
    STATSD_PACKETS_DROPPED = counter(
        "meterd_statsd_packets_dropped",
        "StatsD packets dropped before parsing, by reason (queue_full: parsers behind; \
         receive_buffer: the kernel's UDP receive buffer was full, counted with the next packet \
         that gets through).",
        ["reason"]
    );
    STATSD_TCP_CONNECTIONS_CLOSED = counter(
        "meterd_statsd_tcp_connections_closed",
        "StatsD TCP connections closed by meterd or the peer, by reason.",
        ["reason"]
    );
    STATSD_TCP_CONNECTIONS_OPEN = gauge(
        "meterd_statsd_tcp_connections_open",
        "StatsD TCP connections currently open.",
        []
    );
    // OTLP
    OTLP_REQUESTS = counter(
        "meterd_otlp_requests",
        "OTLP export requests, by transport, signal and result.",
        ["transport", "signal", "result"]
    );
    OTLP_ITEMS_RECEIVED = counter(
        "meterd_otlp_items_received",
        "OTLP data points, spans and log records received, by signal.",
        ["signal"]
    );
    OTLP_ITEMS_REJECTED = counter(
        "meterd_otlp_items_rejected",
        "OTLP items not accepted, by signal and reason (store rejections are detailed in \
         meterd_samples_rejected).",
        ["signal", "reason"]
    );
    OTLP_TTFT_DROPPED = counter(
        "meterd_otlp_ttft_dropped",
        "Times to first token from accepted OTLP spans or metrics left out of \
         llm_time_to_first_token_seconds as implausible (negative, after the span ended, over \
         an hour) or unusable (unknown unit, no buckets), by reason.",
        ["reason"]
    );
    OTLP_DEDUP_KEYS = gauge(
        "meterd_otlp_dedup_keys",
        "Span and response keys remembered so a call is priced once (bounded by \
         otlp.dedup.max_entries).",
        []
    );
    OTLP_DEDUP_EVICTED = counter(
        "meterd_otlp_dedup_evicted",
        "Span and response keys dropped before their otlp.dedup.window ended because \
         otlp.dedup.max_entries was reached (a retry of those spans would be priced again).",
        []
    );
    OTLP_DEDUP_SCOPES_UNTRACKED = counter(
        "meterd_otlp_dedup_scopes_untracked",
        "GenAI spans priced without checking for an overlapping instrumentation scope because \
         the table of service instances was full.",
        []
    );
    OTLP_DUPLICATE_SPANS = counter(
        "meterd_otlp_duplicate_spans",
        "GenAI spans not priced again, by reason: retry (same trace and span id), same_response \
         (same provider and gen_ai.response.id as a span already priced; only usage it adds is \
         priced), overlapping_scope (another instrumentation scope of the same service instance \
         is preferred by otlp.usage_scopes).",
        ["reason"]
    );
    // Usage, quality and money
    USAGE_INCONSISTENT = counter(
        "meterd_usage_inconsistent",
        "Usage events whose parts (cache, reasoning, audio tokens) exceed their whole (input, \
         output): priced as raw usage, by provider and reason. Declare such a source raw in \
         config.",
        ["provider", "reason"]
    );
    PRICING_INFO = gauge(
        "meterd_pricing_info",
        "The pricing table in force (value 1), by content hash and source file(s).",
        ["hash", "source"]
    );
    PRICING_ENTRIES = gauge(
        "meterd_pricing_entries",
        "Entries (model prices) in the pricing table in force.",
        []
    );
    BUDGET_ORPHANED_RECORDS = gauge(
        "meterd_budget_orphaned_records",
        "Saved budget spend records kept for budgets not in the config (removed, renamed, or \
         reshaped), until their period ends, the budget returns, or an admin forgets them.",
        []
    );
    API_BUDGETS = gauge(
        "meterd_api_budgets",
        "Budgets created over the admin API, by state: active (running), shadowed (the config \
         defines the name; the config's runs), invalid (the stored definition does not compile).",
        ["state"]
    );
    USAGE_EVENTS = counter(
        "meterd_usage_events",
        "Usage events (model calls or parts of one) derived, by protocol.",
        ["protocol"]
    );
    USAGE_REJECTED = counter(
        "meterd_usage_rejected",
        "Usage events refused before pricing (a quantity past limits.max_usage_per_line, a \
         weight that is not a positive number), by protocol and reason.",
        ["protocol", "reason"]
    );
    BUDGET_GROUPS_OVERFLOWED = counter(
        "meterd_budget_groups_overflowed",
        "Spend counted under a budget's _overflow group because max_groups was reached.",
        ["budget"]
    );
    QUALITY_EVENTS = counter(
        "meterd_quality_events",
        "Quality events (evaluations, outcomes) received, by protocol.",
        ["protocol"]
    );
    QUALITY_REJECTED = counter(
        "meterd_quality_rejected",
        "Quality events dropped as invalid (missing name, score outside its scale, ...), by \
         protocol and reason.",
        ["protocol", "reason"]
    );
    QUALITY_VALUES_CAPPED = counter(
        "meterd_quality_values_capped",
        "Quality signal values recorded as `other` because the quality.max_* cap on distinct \
         values was reached, by dimension.",
        ["dimension"]
    );
    USAGE_VALUES_CAPPED = counter(
        "meterd_usage_values_capped",
        "Usage label values recorded as `other` because the dimension's cap on distinct values \
         was reached, by dimension (error_type: 20 beyond the canonical ones).",
        ["dimension"]
    );
    MONEY_OVERFLOW = counter(
        "meterd_money_overflow",
        "Money amounts refused (not applied) because they would overflow their counter, by \
         where: cost (pricing one event), budget (a budget's spend), store (a cost series).",
        ["where"]
    );
    // State
    STATE_LAST_FLUSH_SUCCESS_TIMESTAMP_SECONDS = gauge(
        "meterd_state_last_flush_success_timestamp_seconds",
        "Unix time at which the state file last held all budget spend (a flush succeeded or \
         found nothing to write).",
        []
    );
    STATE_FLUSH_DURATION_SECONDS = gauge(
        "meterd_state_flush_duration_seconds",
        "Time the last budget state commit (write and fsync) took.",
        []
    );
    STATE_FLUSHES = counter(
        "meterd_state_flushes",
        "Budget state commits to the state file, by result (success, failure).",
        ["result"]
    );
    STATE_RECORDS_WRITTEN = counter(
        "meterd_state_records_written",
        "Budget spend records written or deleted in the state file.",
        []
    );
    USAGE_ROWS_WRITTEN = counter(
        "meterd_usage_rows_written",
        "Usage ledger rows (hour and day buckets) written to the state file.",
        []
    );
    USAGE_ROWS_FOLDED = counter(
        "meterd_usage_rows_folded",
        "Usage counted under the ledger's _other row because a bucket reached \
         usage.max_rows_per_bucket (one per bucket: hour and day).",
        []
    );
    NOTIFICATIONS = counter(
        "meterd_notifications",
        "Budget notification webhook deliveries, by result (success; failure after every retry; \
         dropped because notifications.webhook.queue_size was reached).",
        ["result"]
    );
    NOTIFICATION_DELIVERIES = counter(
        "meterd_notification_deliveries",
        "Budget notification deliveries per target (notifications.webhook is target webhook; \
         at most 16 targets) and body format (alertmanager, slack), by result (success, failure, \
         dropped).",
        ["target", "format", "result"]
    );
    // Store and scrapes
    SERIES_EXPIRED = counter(
        "meterd_series_expired",
        "Series removed after being idle longer than their TTL.",
        []
    );
    MEMORY_SHEDDING = gauge(
        "meterd_memory_shedding",
        "1 while the memory guard sheds new series (resident memory reached limits.max_memory; see /readyz).",
        []
    );
    SERIES = gauge(
        "meterd_series",
        "Series currently held in the store (all families).",
        []
    );
    SERIES_LIMIT = gauge(
        "meterd_series_limit",
        "Configured cap on series in the store.",
        []
    );
    SCRAPE_DURATION_SECONDS = gauge(
        "meterd_scrape_duration_seconds",
        "Time the previous /metrics render took.",
        []
    );
    SCRAPES = counter(
        "meterd_scrapes",
        "Scrapes of /metrics served.",
        ["format"]
    );
    SCRAPES_SHARED = counter(
        "meterd_scrapes_shared",
        "Scrapes of /metrics served by joining a render already in flight for another scrape.",
        []
    );
    SERIES_DROPPED = counter(
        "meterd_series_dropped",
        "Samples dropped because a series cap was reached, by metric.",
        ["metric", "reason"]
    );
    SAMPLES_REJECTED = counter(
        "meterd_samples_rejected",
        "Samples rejected by the store, by protocol and reason.",
        ["protocol", "reason"]
    );
    // Security
    ADMIN_UNAUTHORIZED = counter(
        "meterd_admin_unauthorized",
        "Admin requests refused for a missing or wrong admin token.",
        []
    );
    ADMIN_ACTIONS = counter(
        "meterd_admin_actions",
        "Admin actions performed, by action (reload, budget_reset, budget_forget, budget_create, \
         budget_update, budget_delete, recommendation_status) and result.",
        ["action", "result"]
    );
    HTTP_UNAUTHORIZED = counter(
        "meterd_http_unauthorized",
        "HTTP requests refused for missing or wrong credentials.",
        []
    );
    TLS_HANDSHAKE_FAILURES = counter(
        "meterd_tls_handshake_failures",
        "TLS connections dropped before the handshake completed (plain-text or untrusted \
         clients, timeouts, too many handshakes at once), by listener and reason.",
        ["listener", "reason"]
    );
    // Connections, every TCP listener (net::limits)
    CONNECTIONS_OPEN = gauge(
        "meterd_connections_open",
        "TCP connections currently open, by listener.",
        ["listener"]
    );
    CONNECTIONS_CLOSED = counter(
        "meterd_connections_closed",
        "TCP connections closed by meterd's limits, by listener and reason (evicted: made room \
         for a new one at the cap; header_timeout; idle_timeout).",
        ["listener", "reason"]
    );
    CONNECTIONS_REJECTED = counter(
        "meterd_connections_rejected",
        "TCP connections closed as soon as accepted, by listener and reason (connection_limit: \
         at the cap with no connection that could make room; accept_error: the accept call \
         failed, e.g. out of file descriptors).",
        ["listener", "reason"]
    );
    // Config and process
    BUILD_INFO = gauge(
        "meterd_build_info",
        "meterd build: version and rustc target, value 1.",
        ["version"]
    );
    CONFIG_RELOADS = counter(
        "meterd_config_reloads",
        "Config loads, by result (success, failure). A failed reload keeps the previous config.",
        ["result"]
    );
    CONFIG_LAST_RELOAD_SUCCESSFUL = gauge(
        "meterd_config_last_reload_successful",
        "1 if the last config (re)load succeeded, 0 if it failed and an older config is \
         running.",
        []
    );
    CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS = gauge(
        "meterd_config_last_reload_success_timestamp_seconds",
        "Unix time of the last successful config load.",
        []
    );
    FLEET_QUERIES = counter(
        "meterd_fleet_queries",
        "Fleet budget queries to the query API, by result (success, failure).",
        ["result"]
    );
    // Process (the standard `process_*` families every Prometheus client exports)
    PROCESS_CPU_SECONDS = counter(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds.",
        []
    );
    PROCESS_RESIDENT_MEMORY_BYTES = gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        []
    );
    PROCESS_VIRTUAL_MEMORY_BYTES = gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        []
    );
    PROCESS_OPEN_FDS = gauge(
        "process_open_fds",
        "Number of open file descriptors.",
        []
    );
    PROCESS_MAX_FDS = gauge(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        []
    );
    PROCESS_THREADS = gauge(
        "process_threads",
        "Number of OS threads.",
        []
    );
    PROCESS_START_TIME_SECONDS = gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        []
    );
}

/// The self-metrics table README shows, one row per family in [`ALL`].
pub fn markdown_table() -> String {
    let mut out = String::from("| family | type | labels | meaning |\n|---|---|---|---|\n");
    for f in ALL {
        let kind = match f.kind {
            super::Kind::Counter => "counter",
            super::Kind::Gauge => "gauge",
        };
        let labels = f
            .labels
            .iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| `{}` | {kind} | {labels} | {} |\n",
            f.exposed_name(),
            f.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = "<!-- self-metrics: generated from src/telemetry/catalogue.rs -->\n";
    const END: &str = "<!-- end self-metrics -->";

    /// README lists every family exactly as declared; on a change, paste the printed table.
    #[test]
    fn readme_lists_every_family() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let block = readme
            .split_once(START)
            .and_then(|(_, rest)| rest.split_once(END))
            .map(|(block, _)| block)
            .unwrap_or_default();
        let want = markdown_table();
        assert_eq!(
            block, want,
            "README's self-metrics table is stale; it should be:\n{want}"
        );
    }

    #[test]
    fn names_are_unique_and_labels_valid() {
        let mut seen = std::collections::HashSet::new();
        for f in ALL {
            assert!(seen.insert(f.name), "{} declared twice", f.name);
            assert!(crate::names::is_valid_metric_name(f.name), "{}", f.name);
            assert!(!f.help.is_empty() && !f.help.contains('\n'), "{}", f.name);
            for l in f.labels {
                assert!(crate::names::is_valid_label_name(l), "{}: {l}", f.name);
            }
        }
    }
}
