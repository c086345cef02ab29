#pragma once
// An in-process vendor for device-agent tests: keys, roots (with rotation), timestamps and
// release manifests signed the way vendor-server signs them, and provisioned device state dirs.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/envelope.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"

namespace fwchain::device::test {

struct Image {
    std::string bytes;
    std::string sha256;
    explicit Image(std::string b) : bytes(std::move(b)), sha256(Sha256Hex(bytes)) {}
};

// Deterministic pseudo-random image of `size` bytes.
Image MakeImage(std::size_t size, std::uint32_t seed);

struct ReleaseSpec {
    std::string product = "cam";
    std::vector<std::string> hardware = {"rev-b"};
    std::string version = "1.0.0";
    std::uint64_t sequence = 1;
    std::string sha256;
    std::uint64_t size = 0;
    std::int64_t expires_in = 30 * 86400;
    const SigningKey* key = nullptr;  // default: the vendor's release key
};

class TestVendor {
  public:
    TestVendor();

    const std::string& name() const { return name_; }
    const Root& root() const { return root_; }
    // All roots so far, version 1 first.
    const std::vector<Envelope>& roots() const { return roots_; }

    // Root version+1 with a fresh root key, signed by the old and the new root key.
    void RotateRoot();

    Envelope Timestamp(const std::map<std::string, std::uint64_t>& latest, std::int64_t issued,
                       std::int64_t expires);
    // Timestamp issued now, expiring in a day.
    Envelope Timestamp(const std::map<std::string, std::uint64_t>& latest);
    // Signs a manifest; timestamps made afterwards name its hash (unless `unlisted`: a manifest
    // only a thief of the release key would sign).
    Envelope Release(const ReleaseSpec& spec) const;
    Envelope UnlistedRelease(const ReleaseSpec& spec) const;
    // Ledger facts the next timestamps sign (docs/protocol.md "Ledger proofs for devices").
    void SetLedgerCheckpoint(std::optional<LedgerPoint> checkpoint) { checkpoint_ = checkpoint; }
    void SetReleaseBlock(const Envelope& manifest, LedgerPoint block);
    // The admission key of the root (admits gateways that mine).
    const SigningKey& admission_key() const { return root_key_; }
    // The ledger `release` tx vendor-server publish makes for `manifest` (signed by `key`, by
    // default the release key).
    Tx ReleaseTx(const Envelope& manifest, const SigningKey* key = nullptr) const;

    // Writes device.key, device.json and root.json (the pinned root v1) into `dir`; returns the
    // device's public key hex.
    std::string Provision(const std::string& dir, const std::string& device_id,
                          std::uint64_t max_image_size = 0, bool has_rtc = true) const;

  private:
    void SignRoot(const std::vector<const SigningKey*>& keys);

    std::string name_ = "acme";
    SigningKey root_key_;
    SigningKey release_key_;
    SigningKey timestamp_key_;
    Root root_;
    std::vector<Envelope> roots_;
    std::uint64_t ts_version_ = 0;
    mutable ManifestMap manifests_;
    std::optional<LedgerPoint> checkpoint_;
};

}  // namespace fwchain::device::test
