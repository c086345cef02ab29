#pragma once
// Lower bound of the current time for devices without a real-time clock (DESIGN.md §3 rule 3):
// the newest `issued` the device accepted plus the uptime accumulated since, persisted across
// boots. The uptime source is injectable so tests need no real waiting.
#include <cstdint>
#include <functional>
#include <string>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"

namespace fwchain::device {

struct Uptime {
    std::string boot_id;       // /proc/sys/kernel/random/boot_id: changes on every kernel boot
    std::int64_t seconds = 0;  // /proc/uptime, whole seconds
};

// Reads the kernel's boot id and uptime.
Expected<Uptime> ReadProcUptime();

struct ClockState {
    std::int64_t base = 0;         // a time known to have passed (newest accepted `issued`)
    std::int64_t accumulated = 0;  // uptime seconds counted since `base` was set
    std::string boot_id;           // boot in which `uptime_seen` was observed
    std::int64_t uptime_seen = 0;

    Json ToJson() const;
    static Expected<ClockState> FromJson(const Json& j);
};

// Adds the uptime elapsed since the last observation. In a new boot, the whole uptime of that
// boot counts (the time the device was off is unknown and counts as zero, so the bound stays a
// lower bound).
void ObserveUptime(ClockState& clock, const Uptime& now);

// base + accumulated.
std::int64_t LowerBound(const ClockState& clock);

// After accepting a document issued at `issued`: the bound moves up to it (never down).
void RaiseBound(ClockState& clock, std::int64_t issued);

// Where the agent gets time from. `rtc` empty = no real-time clock.
struct TimeSource {
    std::function<std::int64_t()> rtc;
    std::function<Expected<Uptime>()> uptime;

    static TimeSource System(bool has_rtc);
};

}  // namespace fwchain::device
