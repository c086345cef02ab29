#include "device-agent/cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/adapters/log.hpp"
#include "device-agent/agent.hpp"

namespace fwchain::device {

namespace {

constexpr const char* kFooter = R"(Exit codes:
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
}

}  // namespace

int CliMain(int argc, char** argv) {
    CLI::App app{
        "fwchain device agent: confirm, check, verify, install and report firmware "
        "updates (A/B slots)",
        "device-agent"};
    app.footer(kFooter);
    app.require_subcommand(1);

    BootOptions boot;
    std::string log_level = "info";
    bool json = false;
    int retries = boot.fetch.max_attempts;
    auto* boot_cmd = app.add_subcommand("boot", "one boot: confirm or roll back, check, install");
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
    boot_cmd->add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->capture_default_str();
    boot_cmd->add_flag("--json", json, "print a one-line JSON summary on stdout");

    std::string status_dir;
    bool status_json = false;
    auto* status_cmd = app.add_subcommand("status", "installed version, slots, pending, queue");
    status_cmd->add_option("--state", status_dir, "device state dir")->required();
    status_cmd->add_flag("--json", status_json, "JSON output");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        (void)app.exit(e);
        return kExitUsage;
    }

    if (*boot_cmd) {
        InitLogging("device-agent", log_level);
        boot.fetch.max_attempts = retries;
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

    auto s = ReadStatus(status_dir);
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
