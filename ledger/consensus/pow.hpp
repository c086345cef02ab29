#pragma once
// Proof of work, difficulty retarget and block-time rules (DESIGN.md §5). Pure functions over
// plain data, like Bitcoin's pow.h: no clock, disk or network.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

// A block's timestamp may be at most this far ahead of the validating node's clock.
inline constexpr std::int64_t kMaxFutureBlockTime = 2 * 60 * 60;
// Median-time-past looks at this many previous blocks.
inline constexpr std::size_t kMedianTimeSpan = 11;

using Work = unsigned __int128;

// True when `hash` meets `bits` and `bits` is within the allowed range.
bool CheckProofOfWork(const Hash256& hash, std::uint32_t bits, const ChainParams& params);

// Expected work of one block: 2^bits.
Work BlockWork(std::uint32_t bits);
// Fixed-width 32-char lowercase hex, so stored values compare as strings too.
std::string WorkToHex(Work w);
std::optional<Work> WorkFromHex(const std::string& hex);

// True when a block at `height` starts a new difficulty window.
bool IsRetargetHeight(std::uint64_t height, const ChainParams& params);

// Required bits for the block at `height`. `prev_bits` are the bits of block height-1. At a
// retarget height, `window_first_time` / `window_last_time` are the timestamps of blocks
// height-retarget_window and height-1 (ignored otherwise). The measured time span is clamped
// to [expected/4, expected*4], so bits move by at most 2 (one bit doubles the work); the result
// never drops below params.initial_bits (the easiest difficulty, like Bitcoin's powLimit) nor
// rises above kMaxBits.
std::uint32_t NextBits(const ChainParams& params, std::uint64_t height, std::uint32_t prev_bits,
                       std::int64_t window_first_time, std::int64_t window_last_time);

// Median of the last (up to 11) block timestamps; `times` are in chain order, oldest first, and
// only the last 11 count. 0 for an empty list.
std::int64_t MedianTimePast(std::vector<std::int64_t> times);

}  // namespace fwchain::ledger
