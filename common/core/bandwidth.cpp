#include "common/core/bandwidth.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace fwchain {
namespace {

struct Unit {
    std::string_view name;
    double bytes;  // bytes per unit
};
constexpr Unit kUnits[] = {
    {"B", 1},          {"kB", 1e3},       {"KB", 1e3},        {"MB", 1e6},
    {"GB", 1e9},       {"KiB", 1024.0},   {"MiB", 1048576.0}, {"GiB", 1073741824.0},
    {"kbit", 1e3 / 8}, {"Kbit", 1e3 / 8}, {"Mbit", 1e6 / 8},  {"Gbit", 1e9 / 8},
};

Error BadRate(std::string_view text) {
    return MakeError(Errc::kInvalid, "bad-rate",
                     "'" + std::string(text) +
                         "' is not a rate: bytes/s, or a number with B, kB, MB, GB, KiB, MiB, "
                         "GiB, kbit, Mbit or Gbit (optionally /s)");
}

// "HH:MM" -> minutes after midnight (24:00 only when `end`).
bool ParseClock(std::string_view s, bool end, int& minutes) {
    if (s.size() != 5 || s[2] != ':') return false;
    for (std::size_t i : {0u, 1u, 3u, 4u}) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    const int h = (s[0] - '0') * 10 + (s[1] - '0');
    const int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end))) return false;
    minutes = h * 60 + m;
    return true;
}

}  // namespace

Expected<std::int64_t> ParseRate(std::string_view text) {
    std::string_view s = text;
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (s.size() > 2 && s.substr(s.size() - 2) == "/s") s.remove_suffix(2);
    std::size_t digits = 0;
    while (digits < s.size() &&
           (std::isdigit(static_cast<unsigned char>(s[digits])) || s[digits] == '.')) {
        ++digits;
    }
    const std::string_view number = s.substr(0, digits);
    std::string_view unit = s.substr(digits);
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    if (number.empty() || number.front() == '.' || number.back() == '.') return Fail(BadRate(text));
    if (unit.empty()) {
        std::int64_t v = 0;
        auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
        if (ec != std::errc() || ptr != number.data() + number.size()) return Fail(BadRate(text));
        return v;
    }
    double value = 0;
    {
        // from_chars for double is in libstdc++ 11+; the text is short and checked above.
        std::string copy(number);
        char* end = nullptr;
        value = std::strtod(copy.c_str(), &end);
        if (end != copy.c_str() + copy.size()) return Fail(BadRate(text));
    }
    for (const auto& u : kUnits) {
        if (u.name != unit) continue;
        const double bytes = std::round(value * u.bytes);
        if (!(bytes < 9.2e18)) return Fail(BadRate(text));
        return static_cast<std::int64_t>(bytes);
    }
    return Fail(BadRate(text));
}

Expected<TimeWindow> ParseTimeWindow(std::string_view text) {
    TimeWindow w;
    const auto dash = text.find('-');
    if (dash == std::string_view::npos ||
        !ParseClock(text.substr(0, dash), false, w.start_minute) ||
        !ParseClock(text.substr(dash + 1), true, w.end_minute)) {
        return Fail(Errc::kInvalid, "bad-window",
                    "'" + std::string(text) +
                        "' is not a time window HH:MM-HH:MM (local time, e.g. 22:00-06:00)");
    }
    return w;
}

std::string FormatTimeWindow(const TimeWindow& w) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02d:%02d-%02d:%02d", w.start_minute / 60, w.start_minute % 60,
                  w.end_minute / 60, w.end_minute % 60);
    return buf;
}

bool InWindows(const std::vector<TimeWindow>& windows, int minute_of_day) {
    if (windows.empty()) return true;
    for (const auto& w : windows) {
        const int end = w.end_minute % 1440;
        if (w.start_minute == end) return true;  // the whole day
        if (w.start_minute < end) {
            if (minute_of_day >= w.start_minute && minute_of_day < end) return true;
        } else if (minute_of_day >= w.start_minute || minute_of_day < end) {
            return true;  // across midnight
        }
    }
    return false;
}

}  // namespace fwchain
