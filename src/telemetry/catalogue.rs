//! Every `meterd_*` family (and the standard `process_*` ones), declared once: name, help, type and label names. Call sites pass the
//! handle (`telemetry::count(store, &catalogue::STATSD_ERRORS, &[("reason", r)], 1.0)`), so a
//! name or help text cannot drift between sites; README's self-metrics table is rendered from
//! [`ALL`] and checked by a test.

use super::Family;

// StatsD
pub static STATSD_PACKETS_RECEIVED: Family = Family::counter(
    "meterd_statsd_packets_received",
    "StatsD UDP packets (or TCP line batches, one per read) received.",
    &["transport"],
);
pub static STATSD_LINES_RECEIVED: Family = Family::counter(
    "meterd_statsd_lines_received",
    "StatsD lines received (blank lines not counted), valid or not.",
    &["transport"],
);
pub static STATSD_ERRORS: Family = Family::counter(
    "meterd_statsd_errors",
    "StatsD lines (or samples of a line) rejected, by reason.",
    &["reason"],
);
pub static STATSD_SAMPLES_DROPPED: Family = Family::counter(
    "meterd_statsd_samples_dropped",
    "StatsD samples deliberately not stored, by reason (mapping_drop: an action: drop rule).",
    &["reason"],
);
pub static STATSD_PACKETS_DROPPED: Family = Family::counter(
    "meterd_statsd_packets_dropped",
    "StatsD packets dropped before parsing, by reason (queue_full: parsers behind).",
    &["reason"],
);
pub static STATSD_TCP_CONNECTIONS_CLOSED: Family = Family::counter(
    "meterd_statsd_tcp_connections_closed",
    "StatsD TCP connections closed by meterd or the peer, by reason.",
    &["reason"],
);
pub static STATSD_TCP_CONNECTIONS_OPEN: Family = Family::gauge(
    "meterd_statsd_tcp_connections_open",
    "StatsD TCP connections currently open.",
    &[],
);

// OTLP
pub static OTLP_REQUESTS: Family = Family::counter(
    "meterd_otlp_requests",
    "OTLP export requests, by transport, signal and result.",
    &["transport", "signal", "result"],
);
pub static OTLP_ITEMS_RECEIVED: Family = Family::counter(
    "meterd_otlp_items_received",
    "OTLP data points, spans and log records received, by signal.",
    &["signal"],
);
pub static OTLP_ITEMS_REJECTED: Family = Family::counter(
    "meterd_otlp_items_rejected",
    "OTLP items not accepted, by signal and reason (store rejections are detailed in \
             meterd_samples_rejected).",
    &["signal", "reason"],
);
pub static OTLP_TTFT_DROPPED: Family = Family::counter(
    "meterd_otlp_ttft_dropped",
    "Times to first token from accepted OTLP spans or metrics left out of \
             llm_time_to_first_token_seconds as implausible (negative, after the span ended, over \
             an hour) or unusable (unknown unit, no buckets), by reason.",
    &["reason"],
);
pub static OTLP_DEDUP_KEYS: Family = Family::gauge(
    "meterd_otlp_dedup_keys",
    "Span and response keys remembered so a call is priced once (bounded by \
             otlp.dedup.max_entries).",
    &[],
);
pub static OTLP_DEDUP_EVICTED: Family = Family::counter(
    "meterd_otlp_dedup_evicted",
    "Span and response keys dropped before their otlp.dedup.window ended because \
                 otlp.dedup.max_entries was reached (a retry of those spans would be priced again).",
    &[],
);
pub static OTLP_DEDUP_SCOPES_UNTRACKED: Family = Family::counter(
    "meterd_otlp_dedup_scopes_untracked",
    "GenAI spans priced without checking for an overlapping instrumentation scope \
                 because the table of service instances was full.",
    &[],
);
pub static OTLP_DUPLICATE_SPANS: Family = Family::counter(
    "meterd_otlp_duplicate_spans",
    "GenAI spans not priced again, by reason: retry (same trace and span id), \
             same_response (same provider and gen_ai.response.id as a span already priced; only \
             usage it adds is priced), overlapping_scope (another instrumentation scope of the \
             same service instance is preferred by otlp.usage_scopes).",
    &["reason"],
);

// Usage, quality and money
pub static USAGE_INCONSISTENT: Family = Family::counter(
    "meterd_usage_inconsistent",
    "Usage events whose parts (cache, reasoning, audio tokens) exceed their whole (input, \
         output): priced as raw usage, by provider and reason. Declare such a source raw in config.",
    &["provider", "reason"],
);
pub static PRICING_INFO: Family = Family::gauge(
    "meterd_pricing_info",
    "The pricing table in force (value 1), by content hash and source file(s).",
    &["hash", "source"],
);
pub static PRICING_ENTRIES: Family = Family::gauge(
    "meterd_pricing_entries",
    "Entries (model prices) in the pricing table in force.",
    &[],
);
pub static BUDGET_ORPHANED_RECORDS: Family = Family::gauge(
    "meterd_budget_orphaned_records",
    "Saved budget spend records kept for budgets not in the config (removed, renamed, or \
             reshaped), until their period ends, the budget returns, or an admin forgets them.",
    &[],
);
pub static USAGE_EVENTS: Family = Family::counter(
    "meterd_usage_events",
    "Usage events (model calls or parts of one) derived, by protocol.",
    &["protocol"],
);
pub static USAGE_REJECTED: Family = Family::counter(
    "meterd_usage_rejected",
    "Usage events refused before pricing (a quantity past limits.max_usage_per_line, \
             a weight that is not a positive number), by protocol and reason.",
    &["protocol", "reason"],
);
pub static BUDGET_GROUPS_OVERFLOWED: Family = Family::counter(
    "meterd_budget_groups_overflowed",
    "Spend counted under a budget's _overflow group because max_groups was reached.",
    &["budget"],
);
pub static QUALITY_EVENTS: Family = Family::counter(
    "meterd_quality_events",
    "Quality events (evaluations, outcomes) received, by protocol.",
    &["protocol"],
);
pub static QUALITY_REJECTED: Family = Family::counter(
    "meterd_quality_rejected",
    "Quality events dropped as invalid (missing name, score outside its scale, ...), \
                 by protocol and reason.",
    &["protocol", "reason"],
);
pub static QUALITY_VALUES_CAPPED: Family = Family::counter(
    "meterd_quality_values_capped",
    "Quality signal values recorded as `other` because the quality.max_* cap on \
                 distinct values was reached, by dimension.",
    &["dimension"],
);
pub static MONEY_OVERFLOW: Family = Family::counter(
    "meterd_money_overflow",
    "Money amounts refused (not applied) because they would overflow their counter, by \
         where: cost (pricing one event), budget (a budget's spend), store (a cost series).",
    &["where"],
);

// State
pub static STATE_LAST_FLUSH_SUCCESS_TIMESTAMP_SECONDS: Family = Family::gauge(
    "meterd_state_last_flush_success_timestamp_seconds",
    "Unix time at which the state file last held all budget spend (a flush succeeded or \
             found nothing to write).",
    &[],
);
pub static STATE_FLUSH_DURATION_SECONDS: Family = Family::gauge(
    "meterd_state_flush_duration_seconds",
    "Time the last budget state commit (write and fsync) took.",
    &[],
);
pub static STATE_FLUSHES: Family = Family::counter(
    "meterd_state_flushes",
    "Budget state commits to the state file, by result (success, failure).",
    &["result"],
);
pub static STATE_RECORDS_WRITTEN: Family = Family::counter(
    "meterd_state_records_written",
    "Budget spend records written or deleted in the state file.",
    &[],
);

// Store and scrapes
pub static SERIES_EXPIRED: Family = Family::counter(
    "meterd_series_expired",
    "Series removed after being idle longer than their TTL.",
    &[],
);
pub static MEMORY_SHEDDING: Family = Family::gauge(
    "meterd_memory_shedding",
    "1 while resident memory is above limits.max_memory and new series are shed.",
    &[],
);
pub static SERIES: Family = Family::gauge(
    "meterd_series",
    "Series currently held in the store (all families).",
    &[],
);
pub static SERIES_LIMIT: Family = Family::gauge(
    "meterd_series_limit",
    "Configured cap on series in the store.",
    &[],
);
pub static SCRAPE_DURATION_SECONDS: Family = Family::gauge(
    "meterd_scrape_duration_seconds",
    "Time the previous /metrics render took.",
    &[],
);
pub static SCRAPES: Family =
    Family::counter("meterd_scrapes", "Scrapes of /metrics served.", &["format"]);
pub static SERIES_DROPPED: Family = Family::counter(
    "meterd_series_dropped",
    "Samples dropped because a series cap was reached, by metric.",
    &["metric", "reason"],
);
pub static SAMPLES_REJECTED: Family = Family::counter(
    "meterd_samples_rejected",
    "Samples rejected by the store, by protocol and reason.",
    &["protocol", "reason"],
);

// Security
pub static ADMIN_UNAUTHORIZED: Family = Family::counter(
    "meterd_admin_unauthorized",
    "Admin requests refused for a missing or wrong admin token.",
    &[],
);
pub static ADMIN_ACTIONS: Family = Family::counter(
    "meterd_admin_actions",
    "Admin actions performed, by action (reload, budget_reset, budget_forget) and result.",
    &["action", "result"],
);
pub static HTTP_UNAUTHORIZED: Family = Family::counter(
    "meterd_http_unauthorized",
    "HTTP requests refused for missing or wrong credentials.",
    &[],
);
pub static TLS_HANDSHAKE_FAILURES: Family = Family::counter(
    "meterd_tls_handshake_failures",
    "TLS connections dropped before the handshake completed (plain-text or untrusted \
         clients, timeouts, too many handshakes at once), by listener and reason.",
    &["listener", "reason"],
);

// Config and process
pub static BUILD_INFO: Family = Family::gauge(
    "meterd_build_info",
    "meterd build: version and rustc target, value 1.",
    &["version"],
);
pub static CONFIG_RELOADS: Family = Family::counter(
    "meterd_config_reloads",
    "Config loads, by result (success, failure). A failed reload keeps the previous config.",
    &["result"],
);
pub static CONFIG_LAST_RELOAD_SUCCESSFUL: Family = Family::gauge(
    "meterd_config_last_reload_successful",
    "1 if the last config (re)load succeeded, 0 if it failed and an older config is running.",
    &[],
);
pub static CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS: Family = Family::gauge(
    "meterd_config_last_reload_success_timestamp_seconds",
    "Unix time of the last successful config load.",
    &[],
);
pub static FLEET_QUERIES: Family = Family::counter(
    "meterd_fleet_queries",
    "Fleet budget queries to the query API, by result (success, failure).",
    &["result"],
);

// Process (the standard `process_*` families every Prometheus client exports)
pub static PROCESS_CPU_SECONDS: Family = Family::counter(
    "process_cpu_seconds",
    "Total user and system CPU time spent in seconds.",
    &[],
);
pub static PROCESS_RESIDENT_MEMORY_BYTES: Family = Family::gauge(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    &[],
);
pub static PROCESS_VIRTUAL_MEMORY_BYTES: Family = Family::gauge(
    "process_virtual_memory_bytes",
    "Virtual memory size in bytes.",
    &[],
);
pub static PROCESS_OPEN_FDS: Family =
    Family::gauge("process_open_fds", "Number of open file descriptors.", &[]);
pub static PROCESS_MAX_FDS: Family = Family::gauge(
    "process_max_fds",
    "Maximum number of open file descriptors.",
    &[],
);
pub static PROCESS_THREADS: Family = Family::gauge("process_threads", "Number of OS threads.", &[]);
pub static PROCESS_START_TIME_SECONDS: Family = Family::gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
    &[],
);

/// Every family above, in the order README lists them.
pub static ALL: &[&Family] = &[
    &STATSD_PACKETS_RECEIVED,
    &STATSD_LINES_RECEIVED,
    &STATSD_ERRORS,
    &STATSD_SAMPLES_DROPPED,
    &STATSD_PACKETS_DROPPED,
    &STATSD_TCP_CONNECTIONS_CLOSED,
    &STATSD_TCP_CONNECTIONS_OPEN,
    &OTLP_REQUESTS,
    &OTLP_ITEMS_RECEIVED,
    &OTLP_ITEMS_REJECTED,
    &OTLP_TTFT_DROPPED,
    &OTLP_DEDUP_KEYS,
    &OTLP_DEDUP_EVICTED,
    &OTLP_DEDUP_SCOPES_UNTRACKED,
    &OTLP_DUPLICATE_SPANS,
    &USAGE_INCONSISTENT,
    &PRICING_INFO,
    &PRICING_ENTRIES,
    &BUDGET_ORPHANED_RECORDS,
    &USAGE_EVENTS,
    &USAGE_REJECTED,
    &BUDGET_GROUPS_OVERFLOWED,
    &QUALITY_EVENTS,
    &QUALITY_REJECTED,
    &QUALITY_VALUES_CAPPED,
    &MONEY_OVERFLOW,
    &STATE_LAST_FLUSH_SUCCESS_TIMESTAMP_SECONDS,
    &STATE_FLUSH_DURATION_SECONDS,
    &STATE_FLUSHES,
    &STATE_RECORDS_WRITTEN,
    &SERIES_EXPIRED,
    &MEMORY_SHEDDING,
    &SERIES,
    &SERIES_LIMIT,
    &SCRAPE_DURATION_SECONDS,
    &SCRAPES,
    &SERIES_DROPPED,
    &SAMPLES_REJECTED,
    &ADMIN_UNAUTHORIZED,
    &ADMIN_ACTIONS,
    &HTTP_UNAUTHORIZED,
    &TLS_HANDSHAKE_FAILURES,
    &BUILD_INFO,
    &CONFIG_RELOADS,
    &CONFIG_LAST_RELOAD_SUCCESSFUL,
    &CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS,
    &FLEET_QUERIES,
    &PROCESS_CPU_SECONDS,
    &PROCESS_RESIDENT_MEMORY_BYTES,
    &PROCESS_VIRTUAL_MEMORY_BYTES,
    &PROCESS_OPEN_FDS,
    &PROCESS_MAX_FDS,
    &PROCESS_THREADS,
    &PROCESS_START_TIME_SECONDS,
];
