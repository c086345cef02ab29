#pragma once
// Upload caps and time windows of a BitTorrent swarm (`gateway run --swarm-upload-limit`,
// `--swarm-window`): someone's home uplink shares firmware only as far and as long as its owner
// allows. Pure parsing and clock arithmetic; the swarm applies them (common/adapters/swarm.cpp).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/expected.hpp"

namespace fwchain {

// A rate in bytes per second: a plain integer ("2000000") or a number with a unit, with or
// without "/s": B, kB, MB, GB (powers of 1000), KiB, MiB, GiB (powers of 1024), and kbit, Mbit,
// Gbit (bits, powers of 1000, as uplinks are sold). "0" = unlimited. Fractions are allowed
// before a unit ("1.5MB/s"). "bad-rate" for anything else.
Expected<std::int64_t> ParseRate(std::string_view text);

// A daily window of local time, "HH:MM-HH:MM": from start (included) to end (excluded), across
// midnight when end <= start ("22:00-06:00"). 24:00 is allowed as an end; start == end is the
// whole day. "bad-window" for anything else.
struct TimeWindow {
    int start_minute = 0;  // minutes after midnight, 0..1439
    int end_minute = 0;    // 0..1440
    bool operator==(const TimeWindow&) const = default;
};
Expected<TimeWindow> ParseTimeWindow(std::string_view text);
std::string FormatTimeWindow(const TimeWindow& w);

// Whether `minute_of_day` (0..1439) is inside one of `windows`; no windows = always.
bool InWindows(const std::vector<TimeWindow>& windows, int minute_of_day);

}  // namespace fwchain
