#pragma once
// `device-agent fleet`: N simulated devices in one process for load and fault tests (issue 5
// item 6). Each device is a provisioned state dir (from `vendor-server provision`) with its own
// key and the `file` slot backend; a shared pool of threads boots each device until it is up to
// date, treating every RunBoot call as one power-on. Power loss is injected at random crash
// points (state.hpp) and at random byte offsets of downloads: the in-process boot is abandoned
// there and the next boot resumes from what was persisted, exactly as after a real power cut.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "device-agent/fetch.hpp"

namespace fwchain::device {

struct FleetOptions {
    std::string state_root;  // every subdirectory holding a device.json is a device
    std::string gateway_url;
    std::size_t count = 0;  // devices to run: the first `count` dirs by name (0 = all)
    unsigned threads = 4;
    double power_loss_rate = 0;  // probability that a boot is cut by a power loss
    std::uint64_t seed = 1;
    int max_boots = 30;  // per device, power-loss boots included
    int max_boot_attempts = 3;
    std::string health_check;  // each device's post-install health check (shell command)
    FetchOptions fetch;
};

struct FleetDevice {
    std::string device_id;
    std::string dir;
    std::string state;  // last outcome: up-to-date, committed, rolled-back, failed, ...
    std::string version;
    std::uint64_t sequence = 0;
    std::string reason;  // of the last failure, "" when none
    int boots = 0;
    int power_losses = 0;
    bool bootable = false;  // the slot the bootloader picks is good or on trial
    bool done = false;      // reached up-to-date (or committed with nothing newer)
};

struct FleetSummary {
    std::vector<FleetDevice> devices;
    std::size_t done = 0;
    std::size_t failed = 0;
    std::uint64_t boots = 0;
    std::uint64_t power_losses = 0;
    std::map<std::string, std::size_t> versions;
    double seconds = 0;

    Json ToJson() const;
};

// Runs the fleet; fails only when the state root cannot be listed or holds too few devices.
Expected<FleetSummary> RunFleet(const FleetOptions& opts);

}  // namespace fwchain::device
