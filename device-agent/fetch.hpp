#pragma once
// Image download into a slot: Range resume from the bytes already in the slot, never more than
// the manifest size (endless data), a stall timeout (slow retrieval), bounded retries with
// exponential backoff and jitter. Streams to the file in chunks: the image is never in memory.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/core/expected.hpp"

namespace fwchain::device {

struct FetchOptions {
    int stall_timeout_s = 30;  // no byte for this long ends the attempt
    // Slow retrieval: fewer than min_rate bytes/s on average over any min_rate_window_s window
    // ends the attempt ("slow-retrieval"), so a gateway trickling one byte per stall timeout
    // cannot hold the device forever. 0 disables.
    std::uint64_t min_rate = 4096;
    int min_rate_window_s = 30;
    int connect_timeout_s = 5;
    int max_attempts = 5;
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{30000};
    bool progress = false;  // progress bar on stderr (only when it is a terminal)
    // Fleet simulator power loss: called with the slot length and the image size after each write;
    // true abandons the download there (reason "power-loss"), keeping what was written.
    std::function<bool(std::uint64_t pos, std::uint64_t size)> power_loss;
};

struct FetchRequest {
    std::string gateway_url;
    std::string sha256;
    std::uint64_t size = 0;
    std::string path;  // slot image file; its current length is the resume offset
    // A raw slot (a partition, or a pre-sized file) has no length to resume from: the bytes
    // written and synced so far are recorded in progress_path instead (synced every 4 MiB).
    bool raw = false;
    std::string progress_path;
};

// Downloads GET {gateway}/v1/images/{sha256} into `path` until it holds exactly `size` bytes.
// Reasons: "endless-data" (more bytes than the manifest size), "stall-timeout",
// "slow-retrieval" (below the minimum rate), "download-failed" (HTTP or transport error after
// the last attempt; a 4xx ends at once), "slot-io", "power-loss" (injected).
// Does not check the hash: the caller verifies what is in the slot, from disk.
Status FetchImage(const FetchRequest& req, const FetchOptions& opts);

// Failures worth resuming on the next boot (the bytes in the slot are a good prefix):
// "download-failed", "stall-timeout", "slow-retrieval".
bool IsTransientDownloadFailure(const std::string& reason);

// Bytes of the image already in a slot: the file length, or for a raw slot the recorded progress.
std::uint64_t SlotLength(const std::string& path, bool raw, const std::string& progress_path);
// Empties a slot before a new image: truncates a file, resets a raw slot's progress.
Status ResetSlot(const std::string& path, bool raw, const std::string& progress_path);

// Bytes already present in `path` (0 when missing).
std::uint64_t FileSize(const std::string& path);
// Truncates (creating) `path` to zero bytes, durably.
Status TruncateFile(const std::string& path);

}  // namespace fwchain::device
