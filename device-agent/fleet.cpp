#include "device-agent/fleet.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "common/adapters/log.hpp"
#include "common/core/fs.hpp"
#include "device-agent/agent.hpp"
#include "device-agent/state.hpp"

namespace fwchain::device {

namespace {

Expected<std::vector<std::string>> DeviceDirs(const std::string& root) {
    std::vector<std::string> dirs;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
        if (e.is_directory() && FileExists((e.path() / "device.json").string())) {
            dirs.push_back(e.path().string());
        }
    }
    if (ec) return Fail(Errc::kIo, "state-root", "cannot list " + root + ": " + ec.message());
    std::sort(dirs.begin(), dirs.end());
    return dirs;
}

// One device booted until it is up to date (or out of boots), with injected power losses.
void RunDevice(const FleetOptions& opts, std::uint64_t device_seed, FleetDevice& dev) {
    std::mt19937_64 rng(device_seed);
    std::bernoulli_distribution cut(std::clamp(opts.power_loss_rate, 0.0, 1.0));
    const auto& points = CrashPoints();
    std::uniform_int_distribution<std::size_t> pick(0, points.size());  // size() = mid-download
    std::uniform_real_distribution<double> fraction(0.0, 1.0);

    for (dev.boots = 0; dev.boots < opts.max_boots && !dev.done;) {
        ++dev.boots;
        BootOptions b;
        b.state_dir = dev.dir;
        b.gateway_url = opts.gateway_url;
        b.fetch = opts.fetch;
        b.max_boot_attempts = opts.max_boot_attempts;
        b.health_check = opts.health_check;
        if (cut(rng)) {
            const std::size_t i = pick(rng);
            if (i < points.size()) {
                b.crash = [point = points[i], fired = false](const std::string& p) mutable {
                    if (fired || p != point) return false;
                    fired = true;
                    return true;
                };
            } else {
                const double at = fraction(rng);
                b.fetch.power_loss = [at](std::uint64_t pos, std::uint64_t size) {
                    return static_cast<double>(pos) >= at * static_cast<double>(size);
                };
            }
        }
        const BootResult r = RunBoot(b);
        dev.device_id = r.device_id;
        dev.state = OutcomeName(r.outcome);
        dev.sequence = r.sequence;
        dev.version = r.version;
        if (r.outcome == Outcome::kFailed && r.reason == "power-loss") {
            ++dev.power_losses;
            dev.state = "power-loss";
            continue;
        }
        switch (r.outcome) {
            case Outcome::kUpToDate:
            case Outcome::kCommitted:  // committed and nothing newer offered
                dev.done = true;
                break;
            case Outcome::kRebootPending:
            case Outcome::kRolledBack:
                break;  // boot again: confirm, or see whether something newer is offered
            case Outcome::kFailed:
                dev.reason = r.reason;
                break;
        }
        if (dev.done) dev.reason.clear();
    }
    if (auto status = ReadStatus(dev.dir)) {
        const Json& boot = (*status)["boot"];
        const std::string active = boot["active"].get<std::string>();
        dev.bootable = boot["good"][active].get<bool>() || boot["try_once"].get<bool>();
        dev.version = (*status)["installed"]["version"].get<std::string>();
        dev.sequence = (*status)["installed"]["sequence"].get<std::uint64_t>();
    } else {
        dev.reason = status.error().reason;
    }
}

}  // namespace

Json FleetSummary::ToJson() const {
    Json devs = Json::array();
    for (const auto& d : devices) {
        devs.push_back(Json{{"device_id", d.device_id},
                            {"state", d.state},
                            {"version", d.version},
                            {"sequence", d.sequence},
                            {"reason", d.reason},
                            {"boots", d.boots},
                            {"power_losses", d.power_losses},
                            {"bootable", d.bootable},
                            {"done", d.done}});
    }
    Json vers = Json::object();
    for (const auto& [v, n] : versions) vers[v] = n;
    return Json{{"devices", devices.size()},
                {"done", done},
                {"failed", failed},
                {"boots", boots},
                {"power_losses", power_losses},
                {"versions", vers},
                {"milliseconds", static_cast<std::int64_t>(seconds * 1000)},
                {"results", devs}};
}

Expected<FleetSummary> RunFleet(const FleetOptions& opts) {
    FW_ASSIGN(std::vector<std::string> dirs, DeviceDirs(opts.state_root));
    if (opts.count > 0) {
        if (dirs.size() < opts.count) {
            return Fail(Errc::kNotFound, "state-root",
                        opts.state_root + " holds " + std::to_string(dirs.size()) +
                            " provisioned devices, " + std::to_string(opts.count) + " asked");
        }
        dirs.resize(opts.count);
    }
    FleetSummary summary;
    summary.devices.resize(dirs.size());
    for (std::size_t i = 0; i < dirs.size(); ++i) summary.devices[i].dir = dirs[i];

    const auto start = std::chrono::steady_clock::now();
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i = next++; i < dirs.size(); i = next++) {
            RunDevice(opts, opts.seed * 0x9e3779b97f4a7c15ULL + i, summary.devices[i]);
        }
    };
    std::vector<std::thread> pool;
    const unsigned threads = std::max(1u, std::min<unsigned>(opts.threads, 256));
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    for (const auto& d : summary.devices) {
        if (d.done && d.bootable) {
            ++summary.done;
        } else {
            ++summary.failed;
        }
        summary.boots += static_cast<std::uint64_t>(d.boots);
        summary.power_losses += static_cast<std::uint64_t>(d.power_losses);
        ++summary.versions[d.version];
    }
    return summary;
}

}  // namespace fwchain::device
