#pragma once
// BitTorrent for the gateway (DESIGN.md §6): images come from the other gateways of the swarm and
// the vendor's web seed, found through the vendor's tracker, and every cached image keeps being
// seeded. libtorrent stays inside swarm.cpp; this header has none of its types.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/core/expected.hpp"

namespace fwchain::gateway {

struct SwarmOptions {
    std::string listen = "0.0.0.0:7430";  // BitTorrent listen interface(s), libtorrent syntax
};

struct SwarmStats {
    std::int64_t payload_downloaded = 0;  // bytes, all torrents, since start
    std::int64_t payload_uploaded = 0;
    int torrents = 0;
};

class Swarm {
  public:
    static Expected<std::unique_ptr<Swarm>> Start(const SwarmOptions& opts);
    ~Swarm();
    Swarm(const Swarm&) = delete;
    Swarm& operator=(const Swarm&) = delete;

    // Downloads the single-file torrent (bencoded bytes, named by its SHA-256) into `dir`.
    // Returns once libtorrent has verified every piece, or fails after `timeout` without
    // progress or when `cancel` is set. The torrent is removed from the session afterwards (the
    // file stays) so the caller can move it; call Seed() once it is in its final place.
    Status Fetch(const std::string& torrent, const std::string& dir, std::chrono::seconds timeout,
                 const std::atomic<bool>& cancel);
    // Seeds a complete file in `dir` (no re-hash: the caller verified its SHA-256).
    Status Seed(const std::string& torrent, const std::string& dir);
    // The TCP port libtorrent listens on (0 until it is known).
    int port() const;
    SwarmStats Stats() const;

  private:
    struct Impl;
    explicit Swarm(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace fwchain::gateway
