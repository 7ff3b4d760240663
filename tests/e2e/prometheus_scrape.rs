//! A real Prometheus scrapes meterd; PromQL returns exactly what was sent over StatsD.

use crate::support::agent::Agent;
use crate::support::prometheus::Prometheus;

#[test]
fn prometheus_queries_return_values_sent_over_statsd() {
    let agent = Agent::start("");
    let prom = Prometheus::start(&[agent.http()], &[], "");
    prom.wait_for_targets_up();
    agent.send_udp("shop.orders:5|c|#region:eu\nshop.orders:2|c|#region:us\nshop.basket:17|g\n");
    agent.send_tcp("shop.orders:3|c|#region:eu\n");
    prom.wait_for_value("shop_orders_total{region=\"eu\"}", 8.0);
    prom.wait_for_value("shop_orders_total{region=\"us\"}", 2.0);
    prom.wait_for_value("shop_basket", 17.0);
    prom.wait_for_value("sum(llm_tokens_total) or vector(0)", 0.0);
    agent.send_udp(
        "llm.tokens:1200|c|#provider:openai,model:gpt-4o,token_type:input,team:search\n\
         llm.requests:1|c|#provider:openai,model:gpt-4o,status:ok,team:search\n",
    );
    prom.wait_for_value(
        "llm_tokens_total{provider=\"openai\",model=\"gpt-4o\",token_type=\"input\",team=\"search\"}",
        1200.0,
    );
    prom.wait_for_value(
        "llm_requests_total{provider=\"openai\",model=\"gpt-4o\",status=\"ok\",team=\"search\"}",
        1.0,
    );
    prom.wait_for_value("meterd_build_info", 1.0);
}
