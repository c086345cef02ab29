#include "common/adapters/server_flags.hpp"

#include <CLI/CLI.hpp>

namespace fwchain::http {

void AddServerFlags(CLI::App& cmd, ServerOptions& o) {
    const char* group = "HTTP limits";
    cmd.add_option("--http-threads", o.event_threads, "Event threads (0 = one per core)")
        ->capture_default_str()
        ->group(group);
    cmd.add_option("--http-workers", o.workers, "Threads for handlers that block")
        ->capture_default_str()
        ->check(CLI::PositiveNumber)
        ->group(group);
    cmd.add_option("--http-max-connections", o.max_connections, "Open connections, in all")
        ->capture_default_str()
        ->check(CLI::PositiveNumber)
        ->group(group);
    cmd.add_option("--http-max-per-ip", o.max_per_ip, "Open connections per client address")
        ->capture_default_str()
        ->check(CLI::PositiveNumber)
        ->group(group);
    cmd.add_option("--http-backlog", o.listen_backlog, "Listen backlog (pending connections)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber)
        ->group(group);
    cmd.add_option("--http-idle-timeout", o.idle_timeout_s,
                   "Seconds a connection may send and read nothing")
        ->capture_default_str()
        ->check(CLI::PositiveNumber)
        ->group(group);
    cmd.add_option("--http-header-timeout", o.header_timeout_s,
                   "Seconds to receive a whole header block (from connect or the last answer)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber)
        ->group(group);
    cmd.add_option("--http-min-body-rate", o.min_body_rate,
                   "Bytes/s a request body must keep up after the grace period")
        ->capture_default_str()
        ->group(group);
}

}  // namespace fwchain::http
