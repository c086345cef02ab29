#pragma once
// Admitting devices and gateways: `vendor-server provision` (a device's key, identity and
// pinned root, plus its `admit` tx) and `vendor-server admit-gateway`.
#include <cstdint>
#include <optional>
#include <string>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "vendor-server/outbox.hpp"

namespace fwchain::vendor {

inline constexpr std::uint64_t kDefaultMaxImageSize = 256ull << 20;

struct ProvisionOptions {
    std::string data_dir;
    std::string device_id;
    std::string product;
    std::string hardware;
    std::string out_dir;
    std::uint64_t max_image_size = kDefaultMaxImageSize;
    std::string ledger_url;
    std::int64_t now = 0;
};

struct AdmitResult {
    std::string subject;
    std::string role;
    std::string key;  // public hex
    std::string tx_id;
    std::optional<SubmitReport> ledger;
    Json ToJson() const;
};

Expected<AdmitResult> Provision(const ProvisionOptions& opts);

struct AdmitGatewayOptions {
    std::string data_dir;
    std::string name;
    std::string public_hex;  // the gateway's public key, hex
    std::string ledger_url;
    std::int64_t now = 0;
};

Expected<AdmitResult> AdmitGateway(const AdmitGatewayOptions& opts);

struct RevokeOptions {
    std::string data_dir;
    std::string device_id;  // exactly one of device_id / gateway
    std::string gateway;
    std::string ledger_url;
    std::int64_t now = 0;
};

// Submits a `revoke` tx (signed by the admission key) for an admitted device or gateway: the
// ledger then refuses its reports (device) or its blocks (gateway). Revoking twice is refused.
Expected<AdmitResult> Revoke(const RevokeOptions& opts);

// The public key of a key file: either a full key file {"public":...} or a bare hex string.
Expected<std::string> PublicKeyFromFile(const std::string& path);

}  // namespace fwchain::vendor
