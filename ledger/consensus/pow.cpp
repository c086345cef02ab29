#include "ledger/consensus/pow.hpp"

#include <algorithm>

namespace fwchain::ledger {

bool CheckProofOfWork(const Hash256& hash, std::uint32_t bits, const ChainParams& params) {
    if (bits < params.initial_bits || bits > kMaxBits) return false;
    return MeetsBits(hash, bits);
}

Work BlockWork(std::uint32_t bits) {
    return static_cast<Work>(1) << std::min<std::uint32_t>(bits, kMaxBits);
}

std::string WorkToHex(Work w) {
    static const char* kDigits = "0123456789abcdef";
    std::string out(32, '0');
    for (int i = 31; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = kDigits[static_cast<unsigned>(w & 0xF)];
        w >>= 4;
    }
    return out;
}

std::optional<Work> WorkFromHex(const std::string& hex) {
    if (hex.size() != 32) return std::nullopt;
    Work w = 0;
    for (char c : hex) {
        unsigned d = 0;
        if (c >= '0' && c <= '9') {
            d = static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return std::nullopt;
        }
        w = (w << 4) | d;
    }
    return w;
}

bool IsRetargetHeight(std::uint64_t height, const ChainParams& params) {
    return height > 0 && params.retarget_window > 0 && height % params.retarget_window == 0;
}

std::uint32_t NextBits(const ChainParams& params, std::uint64_t height, std::uint32_t prev_bits,
                       std::int64_t window_first_time, std::int64_t window_last_time) {
    if (height == 0) return params.initial_bits;
    if (!IsRetargetHeight(height, params)) return prev_bits;

    // The window holds retarget_window blocks, i.e. retarget_window-1 intervals.
    using I128 = __int128;
    const I128 expected =
        static_cast<I128>(params.retarget_window - 1) * static_cast<I128>(params.target_interval);
    I128 actual = static_cast<I128>(window_last_time) - static_cast<I128>(window_first_time);
    actual = std::clamp(actual, expected / 4, expected * 4);
    if (actual < 1) actual = 1;

    // delta = round(log2(expected / actual)), decided on squares to stay in integers: the
    // thresholds are ratios of 2^0.5 and 2^1.5.
    const I128 e2 = expected * expected;
    const I128 a2 = actual * actual;
    int delta = 0;
    if (a2 * 8 <= e2) {
        delta = 2;
    } else if (a2 * 2 <= e2) {
        delta = 1;
    } else if (e2 * 8 <= a2) {
        delta = -2;
    } else if (e2 * 2 <= a2) {
        delta = -1;
    }
    const std::int64_t next = static_cast<std::int64_t>(prev_bits) + delta;
    const std::int64_t lo = params.initial_bits;
    const std::int64_t hi = kMaxBits;
    return static_cast<std::uint32_t>(std::clamp(next, lo, hi));
}

std::int64_t MedianTimePast(std::vector<std::int64_t> times) {
    if (times.empty()) return 0;
    if (times.size() > kMedianTimeSpan) {
        times.erase(times.begin(), times.end() - static_cast<std::ptrdiff_t>(kMedianTimeSpan));
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace fwchain::ledger
