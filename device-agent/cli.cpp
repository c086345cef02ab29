#include "device-agent/cli.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/adapters/cli.hpp"
#include "common/adapters/log.hpp"
#include "device-agent/agent.hpp"
#include "device-agent/fleet.hpp"

namespace fwchain::device {

namespace {

constexpr const char* kBootFooter = R"(Exit codes:
  0   up to date, or the pending install was committed
  10  update installed in the other slot; reboot into it (the next `boot` confirms it)
  20  the new image failed its health check or never booted; rolled back to the previous slot
  1   error: verification, download, state or report-queue failure (reason on stderr)
  2   usage error)";

void PrintHuman(const BootResult& r) {
    switch (r.outcome) {
        case Outcome::kUpToDate:
            std::printf("up to date: version %s (sequence %llu)\n", r.version.c_str(),
                        static_cast<unsigned long long>(r.sequence));
            break;
        case Outcome::kCommitted:
            std::printf("committed: version %s (sequence %llu)\n", r.version.c_str(),
                        static_cast<unsigned long long>(r.sequence));
            break;
        case Outcome::kRebootPending:
            std::printf("installed: version %s (sequence %llu); reboot to try it\n",
                        r.version.c_str(), static_cast<unsigned long long>(r.sequence));
            break;
        case Outcome::kRolledBack:
            std::printf("rolled back to version %s (sequence %llu): %s\n", r.version.c_str(),
                        static_cast<unsigned long long>(r.sequence), r.reason.c_str());
            break;
        case Outcome::kFailed:
            break;
    }
}

// Fault-test hook (documented in README.md): FWCHAIN_DEVICE_CRASH_AT=<crash point> kills the
// agent with SIGKILL right after that point was persisted (a phase name, or one of the side-effect
// points of state.hpp); FWCHAIN_DEVICE_CRASH_AT=download:N once the slot holds N bytes. A real
// power cut, reproducible. Unset in production: the hook is then not installed at all.
void InstallCrashHook(BootOptions& boot) {
    const char* at = std::getenv("FWCHAIN_DEVICE_CRASH_AT");
    if (at == nullptr || *at == '\0') return;
    const std::string point = at;
    if (point.rfind("download:", 0) == 0) {
        const std::uint64_t n = std::strtoull(point.c_str() + 9, nullptr, 10);
        boot.fetch.power_loss = [n](std::uint64_t pos, std::uint64_t) {
            if (pos >= n) std::raise(SIGKILL);
            return false;
        };
        return;
    }
    boot.crash = [point](const std::string& p) {
        if (p == point) std::raise(SIGKILL);
        return false;
    };
}

std::string Ull(const Json& j) { return std::to_string(j.get<std::uint64_t>()); }

void PrintStatus(const Json& s) {
    const Json& inst = s["installed"];
    const Json& boot = s["boot"];
    std::printf("device     %s (product %s, hardware %s)\n",
                s["device_id"].get<std::string>().c_str(), s["product"].get<std::string>().c_str(),
                s["hardware"].get<std::string>().c_str());
    std::printf("installed  %s (sequence %s) in slot %s\n",
                inst["version"].get<std::string>().c_str(), Ull(inst["sequence"]).c_str(),
                inst["slot"].get<std::string>().c_str());
    std::printf(
        "boot       active %s, booted %s%s\n", boot["active"].get<std::string>().c_str(),
        boot["booted"].get<std::string>().c_str(),
        boot["try_once"].get<bool>()
            ? (", try-once, " + std::to_string(boot["attempts_left"].get<int>()) + " attempts left")
                  .c_str()
            : "");
    const Json& p = s["pending"];
    if (p.is_null()) {
        std::printf("pending    none (%s)\n", s["phase"].get<std::string>().c_str());
    } else {
        std::printf("pending    %s (sequence %s) -> slot %s: %s, %s/%s bytes\n",
                    p["version"].get<std::string>().c_str(), Ull(p["sequence"]).c_str(),
                    p["slot"].get<std::string>().c_str(), s["phase"].get<std::string>().c_str(),
                    Ull(p["downloaded"]).c_str(), Ull(p["size"]).c_str());
    }
    std::printf("root       v%s, timestamp v%s\n", Ull(s["root_version"]).c_str(),
                Ull(s["timestamp_version"]).c_str());
    std::printf("reports    %s queued (last nonce %s)\n", Ull(s["queued_reports"]).c_str(),
                Ull(s["report_counter"]).c_str());
    const Json& r = s["report_resync"];
    if (r.is_object() && r.value("count", std::uint64_t{0}) > 0) {
        std::printf(
            "resync     %s time(s); last: counter %s was behind the ledger's %s, "
            "re-signed as %s\n",
            Ull(r["count"]).c_str(), Ull(r["stale_counter"]).c_str(),
            Ull(r["ledger_counter"]).c_str(), Ull(r["new_counter"]).c_str());
    }
}

}  // namespace

int CliMain(int argc, char** argv) {
    CLI::App app{
        "fwchain device agent: confirm, check, verify, install and report firmware "
        "updates (A/B slots)",
        "device-agent"};
    app.footer("Exit codes: each command lists its own in `device-agent COMMAND --help`.");
    app.require_subcommand(1);
    // Every option's default shows in --help; subcommands inherit it.
    app.option_defaults()->always_capture_default();

    BootOptions boot;
    std::string log_level = "info";
    bool json = false;
    int retries = boot.fetch.max_attempts;
    auto* boot_cmd = app.add_subcommand("boot", "one boot: confirm or roll back, check, install");
    boot_cmd->footer(kBootFooter);
    boot_cmd->add_option("--state", boot.state_dir, "device state dir (from provisioning)")
        ->required();
    boot_cmd->add_option("--gateway", boot.gateway_url, "gateway URL, e.g. http://gw:7420")
        ->required();
    boot_cmd->add_option("--health-check", boot.health_check,
                         "shell command run on the first boot of a new image; exit 0 = healthy");
    boot_cmd
        ->add_option("--max-boot-attempts", boot.max_boot_attempts,
                     "boots of a new image before the bootloader falls back")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    boot_cmd->add_flag("--no-rtc", boot.no_rtc,
                       "no real-time clock: use the persisted lower bound of the time");
    boot_cmd
        ->add_option("--stall-timeout", boot.fetch.stall_timeout_s,
                     "seconds without download progress before giving up an attempt")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    boot_cmd->add_option("--retries", retries, "download attempts")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    boot_cmd
        ->add_option("--min-rate", boot.fetch.min_rate,
                     "bytes/s a download must average over --min-rate-window (0 = off)")
        ->capture_default_str();
    boot_cmd
        ->add_option("--min-rate-window", boot.fetch.min_rate_window_s,
                     "seconds over which --min-rate is averaged")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    boot_cmd
        ->add_option("--health-check-timeout", boot.health_check_timeout_s,
                     "seconds before a running health check counts as failed (0 = no limit)")
        ->check(CLI::Range(0, 86400))
        ->capture_default_str();
    int check_deadline_s = static_cast<int>(boot.check_deadline.count() / 1000);
    int report_deadline_s = static_cast<int>(boot.report_deadline.count() / 1000);
    boot_cmd
        ->add_option("--check-deadline", check_deadline_s,
                     "seconds for a whole check exchange (answer and ledger proof); past it: "
                     "slow-retrieval")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    boot_cmd
        ->add_option("--report-deadline", report_deadline_s,
                     "seconds for each report exchange; past it the report stays queued")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    boot_cmd->add_option("--slot-backend", boot.slot_backend,
                         "file|command (default: device.json slot_backend, else file)");
    boot_cmd->add_option("--slot-config", boot.slot_config,
                         "JSON config of the command backend (default: device.json slot_config)");
    boot_cmd->add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->capture_default_str();
    boot_cmd->add_flag("--json", json, "print a one-line JSON summary on stdout");
    cli::AddConfigOption(app, *boot_cmd);

    std::string status_dir, status_backend, status_config;
    bool status_json = false;
    auto* status_cmd = app.add_subcommand("status", "installed version, slots, pending, queue");
    status_cmd->footer("Exit codes: 0 status printed, 1 error (reason on stderr), 2 usage.");
    status_cmd->add_option("--state", status_dir, "device state dir")->required();
    status_cmd->add_option("--slot-backend", status_backend, "file|command");
    status_cmd->add_option("--slot-config", status_config, "command backend config");
    status_cmd->add_flag("--json", status_json, "JSON output");

    FleetOptions fleet;
    std::string fleet_log_level = "warn";
    bool fleet_json = false;
    auto* fleet_cmd = app.add_subcommand(
        "fleet", "simulate N devices in one process (file slots), with optional power loss");
    fleet_cmd->footer(
        "Exit codes: 0 every device is up to date, 1 a device failed or an error, 2 usage.");
    fleet_cmd->add_option("--count", fleet.count, "devices to run (0 = every device found)")
        ->capture_default_str();
    fleet_cmd->add_option("--gateway", fleet.gateway_url, "gateway URL")->required();
    fleet_cmd
        ->add_option("--state-root", fleet.state_root,
                     "dir whose subdirs are provisioned devices (vendor-server provision --out)")
        ->required();
    fleet_cmd->add_option("--threads", fleet.threads, "worker threads")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    fleet_cmd
        ->add_option("--power-loss-rate", fleet.power_loss_rate,
                     "probability that a boot is cut by a power loss at a random point")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    fleet_cmd->add_option("--seed", fleet.seed, "seed of the power-loss injection")
        ->capture_default_str();
    fleet_cmd->add_option("--max-boots", fleet.max_boots, "boots per device before giving up")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    fleet_cmd->add_option("--health-check", fleet.health_check,
                          "shell command run on each device's first boot of a new image (exit 0 = "
                          "healthy; FWCHAIN_VERSION etc. set as for boot)");
    fleet_cmd->add_option("--log-level", fleet_log_level, "trace|debug|info|warn|error")
        ->capture_default_str();
    fleet_cmd->add_flag("--json", fleet_json, "print the summary as JSON");
    cli::AddConfigOption(app, *fleet_cmd);

    if (auto code = cli::Parse(app, argc, argv)) return *code == 0 ? kExitOk : kExitUsage;

    if (*fleet_cmd) {
        InitLogging("device-agent", fleet_log_level);
        fleet.fetch.max_attempts = 3;
        fleet.fetch.backoff_initial = std::chrono::milliseconds(200);
        auto summary = RunFleet(fleet);
        if (!summary) {
            std::fprintf(stderr, "device-agent: %s\n", summary.error().ToString().c_str());
            return kExitError;
        }
        if (fleet_json) {
            std::printf("%s\n", summary->ToJson().dump().c_str());
        } else {
            std::printf(
                "devices %zu: %zu up to date, %zu failed; %llu boots, %llu power losses, "
                "%.1f s\n",
                summary->devices.size(), summary->done, summary->failed,
                static_cast<unsigned long long>(summary->boots),
                static_cast<unsigned long long>(summary->power_losses), summary->seconds);
            for (const auto& [version, n] : summary->versions) {
                std::printf("  version %s: %zu\n", version.c_str(), n);
            }
            for (const auto& d : summary->devices) {
                if (d.done && d.bootable) continue;
                std::printf("  FAILED %s: %s %s (%d boots)%s\n", d.device_id.c_str(),
                            d.state.c_str(), d.reason.c_str(), d.boots,
                            d.bootable ? "" : " NOT BOOTABLE");
            }
        }
        std::fflush(stdout);
        return summary->failed == 0 ? kExitOk : kExitError;
    }

    if (*boot_cmd) {
        InitLogging("device-agent", log_level);
        InstallCrashHook(boot);
        boot.fetch.max_attempts = retries;
        boot.check_deadline = std::chrono::seconds(check_deadline_s);
        boot.report_deadline = std::chrono::seconds(report_deadline_s);
        boot.fetch.progress = true;  // drawn only when stderr is a terminal
        const BootResult r = RunBoot(boot);
        if (r.outcome == Outcome::kFailed) {
            std::fprintf(stderr, "device-agent: failed: %s: %s\n", r.reason.c_str(),
                         r.message.c_str());
        }
        if (json) {
            std::printf("%s\n", r.ToJson().dump().c_str());
        } else {
            PrintHuman(r);
        }
        std::fflush(stdout);
        return r.exit_code();
    }

    auto s = ReadStatus(status_dir, status_backend, status_config);
    if (!s) {
        std::fprintf(stderr, "device-agent: %s\n", s.error().ToString().c_str());
        return kExitError;
    }
    if (status_json) {
        std::printf("%s\n", s->dump().c_str());
    } else {
        PrintStatus(*s);
    }
    std::fflush(stdout);
    return kExitOk;
}

}  // namespace fwchain::device
