#pragma once
// `vendor-server init`: a new vendor data dir with keys, root v1, the first timestamp, the
// ledger's genesis block and the catalog.
#include <cstdint>
#include <map>
#include <string>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"

namespace fwchain::vendor {

struct InitOptions {
    std::string data_dir;
    std::string vendor;
    std::int64_t expires_days = 365;            // root metadata lifetime
    std::uint32_t bits = 12;                    // genesis / initial PoW difficulty
    std::uint64_t max_image_size = 1ull << 30;  // config.json max_image_size
    std::int64_t now = 0;                       // 0 = the system clock
    std::int64_t genesis_time = 0;              // the genesis block's timestamp; 0 = now
};

struct InitResult {
    std::string genesis_hash;
    std::string root_keyid;
    std::map<std::string, std::string> keyids;  // role -> key id (public, fine to print)
    std::string node_key;                       // public hex of the miner key in genesis

    Json ToJson() const;
};

// Refuses a data dir that exists and is not empty.
Expected<InitResult> Init(const InitOptions& opts);

}  // namespace fwchain::vendor
