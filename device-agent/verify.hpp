#pragma once
// The device side of DESIGN.md §3: the pinned root, the root chain walk, the timestamp (with
// freeze detection against the device's time bound), the release manifest against this device,
// and the SHA-256 of what landed in the slot.
#include <cstdint>
#include <string>

#include "common/core/json.hpp"
#include "common/core/metadata.hpp"

namespace fwchain::device {

inline constexpr std::size_t kMaxRootsPerCheck = 64;

// The newest trusted root: DIR/trusted_root.json, or on first use the pinned DIR/root.json
// checked with VerifyInitialRoot and then copied to DIR/trusted_root.json.
Expected<Root> LoadTrustedRoot(const std::string& state_dir);

// Walks the roots of a check answer (those newer than `trusted`) with VerifyRootChain and
// persists the result to DIR/trusted_root.json before it is used. Also checks that the final
// root is unexpired at `now`.
Expected<Root> UpdateTrustedRoot(const std::string& state_dir, const Root& trusted,
                                 const Json& roots, std::int64_t now);

// VerifyTimestamp, except that a correctly signed timestamp that is expired at `now` fails with
// reason "stale-timestamp" (indefinite freeze: the gateway keeps serving an old answer).
Expected<Timestamp> CheckTimestamp(const Root& root, const Json& timestamp, std::int64_t now,
                                   const AcceptedMark& last);

// VerifyRelease of the manifest JSON of a check answer.
Expected<Release> CheckRelease(const Root& root, const Json& manifest, std::int64_t now,
                               const DeviceMatch& device, const Timestamp& ts);

// Streams the slot file from disk; reason "hash-mismatch" unless it is exactly the image. A raw
// slot (a partition) is larger than the image: its first `size` bytes are hashed.
Status VerifySlotImage(const std::string& path, const std::string& sha256, std::uint64_t size,
                       bool raw = false);

}  // namespace fwchain::device
