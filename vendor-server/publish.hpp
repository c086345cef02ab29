#pragma once
// `vendor-server publish`: a tagged Git commit and its image become a signed release manifest,
// a stored image, a `release` tx in the outbox and a new timestamp, all or nothing.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "vendor-server/outbox.hpp"

namespace fwchain::vendor {

struct PublishOptions {
    std::string data_dir;
    std::string repo;  // path of the Git repository (or a directory inside it)
    std::string tag;
    std::string image;  // a file path, or "tree:PATH" for a file inside the tagged tree
    std::string product;
    std::vector<std::string> hardware;
    std::string version;  // default: the tag without a leading 'v'
    bool allow_lightweight = false;
    std::int64_t expires_days = 365;  // manifest lifetime
    std::string ledger_url;           // submit the outbox right away when set
    std::int64_t now = 0;             // 0 = the system clock
};

struct PublishResult {
    std::string product;
    std::string version;
    std::uint64_t sequence = 0;
    std::string sha256;
    std::uint64_t size = 0;
    std::string commit;
    std::string manifest_path;
    std::string manifest_sha256;
    std::string tx_id;
    std::uint64_t timestamp_version = 0;
    std::optional<SubmitReport> ledger;  // when ledger_url was given

    Json ToJson() const;
};

Expected<PublishResult> Publish(const PublishOptions& opts);

}  // namespace fwchain::vendor
