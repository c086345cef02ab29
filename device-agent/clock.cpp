#include "device-agent/clock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "common/core/fs.hpp"

namespace fwchain::device {

namespace {

std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

}  // namespace

Expected<Uptime> ReadProcUptime() {
    FW_ASSIGN(std::string up_text, ReadFile("/proc/uptime", 4096));
    FW_ASSIGN(std::string boot_id, ReadFile("/proc/sys/kernel/random/boot_id", 4096));
    // "12345.67 54321.00": only whole seconds matter, and no floats are parsed.
    std::int64_t seconds = 0;
    const char* begin = up_text.data();
    const char* end = begin + up_text.size();
    auto [ptr, ec] = std::from_chars(begin, end, seconds);
    if (ec != std::errc() || ptr == begin || seconds < 0) {
        return Fail(Errc::kIo, "bad-uptime", "cannot parse /proc/uptime");
    }
    return Uptime{Trim(boot_id), seconds};
}

Json ClockState::ToJson() const {
    return Json{{"base", base},
                {"accumulated", accumulated},
                {"boot_id", boot_id},
                {"uptime_seen", uptime_seen}};
}

Expected<ClockState> ClockState::FromJson(const Json& j) {
    ClockState c;
    FW_ASSIGN(c.base, GetInt(j, "base"));
    FW_ASSIGN(c.accumulated, GetInt(j, "accumulated"));
    FW_ASSIGN(c.boot_id, GetString(j, "boot_id"));
    FW_ASSIGN(c.uptime_seen, GetInt(j, "uptime_seen"));
    return c;
}

void ObserveUptime(ClockState& clock, const Uptime& now) {
    if (now.boot_id == clock.boot_id) {
        // Same boot: only forward movement counts (uptime never goes back within a boot).
        if (now.seconds > clock.uptime_seen) clock.accumulated += now.seconds - clock.uptime_seen;
    } else {
        clock.accumulated += std::max<std::int64_t>(now.seconds, 0);
    }
    if (now.boot_id != clock.boot_id || now.seconds > clock.uptime_seen) {
        clock.uptime_seen = now.seconds;
    }
    clock.boot_id = now.boot_id;
}

std::int64_t LowerBound(const ClockState& clock) { return clock.base + clock.accumulated; }

void RaiseBound(ClockState& clock, std::int64_t issued) {
    // Both the old bound (plus its uptime) and the new `issued` are lower bounds of real time;
    // keep the larger, so an old but valid document never moves the device's clock back.
    const std::int64_t bound = std::max(LowerBound(clock), issued);
    clock.base = bound;
    clock.accumulated = 0;
}

TimeSource TimeSource::System(bool has_rtc) {
    TimeSource t;
    if (has_rtc) t.rtc = [] { return NowSeconds(); };
    t.uptime = [] { return ReadProcUptime(); };
    return t;
}

}  // namespace fwchain::device
