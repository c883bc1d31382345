//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text
//! format: requests by route, method and status, latency by route, open
//! connections, and the store's connection pool.
//!
//! Labels are the route *pattern* (`/api/v1/courses/{course}`), never the
//! path, so the number of series is bounded by the route table whatever
//! clients send.

use std::sync::atomic::AtomicI64;

use lms_core::store::PoolStats;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of the text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Its media type without parameters, as documents name it.
pub const CONTENT_TYPE_BASE: &str = "application/openmetrics-text";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Every metric the server keeps, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    connections: Gauge<i64, AtomicI64>,
    pool: Family<PoolLabels, Gauge<i64, AtomicI64>>,
}

/// Latency buckets from half a millisecond to ten seconds: most answers
/// take well under a millisecond, a login tens of milliseconds.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Metrics {
    /// Empty metrics, registered under the `lms` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("lms");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status",
            requests.clone(),
        );
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from request head to response, by route pattern",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let connections = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "http_connections_open",
            "Client connections being served",
            connections.clone(),
        );
        let pool = Family::<PoolLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "store_pool_connections",
            "Store connections by state (in_use, idle) and the pool's maximum (max)",
            pool.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            connections,
            pool,
        }
    }

    /// Counts one answered request.
    pub fn observe(&self, route: &'static str, method: &http::Method, status: u16, secs: f64) {
        let labels = RequestLabels {
            route,
            method: method_label(method),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(secs);
    }

    /// A connection opened; the gauge drops again when the guard does.
    pub fn connection(&self) -> ConnectionGuard {
        self.connections.inc();
        ConnectionGuard(self.connections.clone())
    }

    /// The text exposition, with the pool read as of now.
    pub fn encode(&self, pool: PoolStats) -> String {
        let in_use = i64::from(pool.open.saturating_sub(pool.idle));
        for (state, value) in [
            ("in_use", in_use),
            ("idle", i64::from(pool.idle)),
            ("max", i64::from(pool.max)),
        ] {
            self.pool.get_or_create(&PoolLabels { state }).set(value);
        }
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps a connection counted while it is open.
#[derive(Debug)]
pub struct ConnectionGuard(Gauge<i64, AtomicI64>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Methods as static labels; anything unusual is one `other` series.
fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_latency_and_pool_appear_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.observe("/healthz", &http::Method::GET, 200, 0.0004);
        metrics.observe("/healthz", &http::Method::GET, 200, 0.002);
        metrics.observe(
            "(no route)",
            &http::Method::from_bytes(b"BREW").unwrap(),
            404,
            0.0,
        );
        let _open = metrics.connection();
        let text = metrics.encode(PoolStats {
            open: 5,
            idle: 2,
            max: 16,
        });
        assert!(
            text.contains(
                "lms_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("method=\"other\",status=\"404\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "lms_http_request_duration_seconds_bucket{le=\"0.0005\",route=\"/healthz\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("lms_http_connections_open 1"), "{text}");
        assert!(
            text.contains("lms_store_pool_connections{state=\"in_use\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("lms_store_pool_connections{state=\"max\"} 16"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn a_closed_connection_is_no_longer_counted() {
        let metrics = Metrics::new();
        drop(metrics.connection());
        let text = metrics.encode(PoolStats::default());
        assert!(text.contains("lms_http_connections_open 0"), "{text}");
    }
}
