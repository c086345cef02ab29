#include "vendor-server/provision.hpp"

#include <filesystem>
#include <system_error>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
#include "ledger/primitives/block.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/image_store.hpp"
#include "vendor-server/metadata_store.hpp"

namespace fwchain::vendor {

Json AdmitResult::ToJson() const {
    Json j{{"subject", subject}, {"role", role}, {"key", key}, {"tx_id", tx_id}};
    if (ledger) j["ledger"] = ledger->ToJson();
    return j;
}

namespace {

Expected<Tx> MakeAdmitTx(const SigningKey& admission_key, const std::string& subject,
                         const std::string& public_hex, const std::string& role,
                         const std::string& product, std::int64_t now) {
    Tx tx;
    tx.type = txtype::kAdmit;
    tx.recipient = subject;
    tx.time = now;
    tx.nonce = RandomNonce();
    tx.body = AdmitTxBody{public_hex, role, product}.ToJson();
    tx.SignWith(admission_key);
    return tx;
}

Expected<SigningKey> LoadAdmissionKey(const DataDir& dir) {
    FW_ASSIGN(auto key, SigningKey::Load(dir.Key(kAdmissionRole)));
    FW_ASSIGN(auto root, LatestRoot(dir));
    if (!root.HasRoleKey(kAdmissionRole, key.Public())) {
        return Fail(
            Errc::kUnauthorized, "not-an-admission-key",
            "keys/admission.key is not an admission key of root v" + std::to_string(root.version));
    }
    return key;
}

// The ledger facts a device starts from (docs/protocol.md "Ledger proofs"): the genesis miners
// (the admissions the chain starts with) and a checkpoint, the vendor's signed one when the
// timestamp has it, else the genesis block.
Status AddLedgerAnchor(const DataDir& dir, const VendorConfig& cfg, Json& device) {
    FW_ASSIGN(Json genesis_json, LoadJsonFile(dir.Genesis()));
    FW_ASSIGN(auto genesis, ledger::Block::FromJson(genesis_json));
    if (genesis.txs.size() != 1 || ToHex(genesis.Hash()) != cfg.genesis_hash) {
        return Fail(Errc::kInvalid, "bad-genesis",
                    dir.Genesis() + " is not the configured genesis");
    }
    FW_ASSIGN(auto info, ledger::ParseGenesisTx(genesis.txs[0]));
    Json miners = Json::array();
    for (const auto& m : info.miners) miners.push_back(ToHex(m));
    device["ledger_genesis_miners"] = std::move(miners);
    LedgerPoint checkpoint{0, cfg.genesis_hash};
    FW_ASSIGN(auto ts, LoadTimestamp(dir));
    if (ts && ts->checkpoint) checkpoint = *ts->checkpoint;
    device["ledger_checkpoint"] = checkpoint.ToJson();
    device["ledger_min_bits"] = info.params.initial_bits;
    device["ledger_finality_depth"] = info.params.finality_depth;
    return {};
}

}  // namespace

Expected<AdmitResult> Provision(const ProvisionOptions& opts) {
    FW_TRY(CheckName("device id", opts.device_id));
    FW_TRY(CheckProductName(opts.product));
    FW_TRY(CheckName("hardware", opts.hardware));
    if (opts.out_dir.empty()) return Fail(Errc::kInvalid, "no-out", "--out is required");
    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    const std::int64_t now = opts.now != 0 ? opts.now : NowSeconds();
    FW_ASSIGN(auto admission_key, LoadAdmissionKey(dir));
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    FW_ASSIGN(auto existing, catalog.Device(opts.device_id));
    if (existing) {
        return Fail(Errc::kConflict, "device-exists",
                    "device " + opts.device_id + " is already provisioned");
    }
    const std::string key_path = opts.out_dir + "/device.key";
    if (FileExists(key_path)) {
        return Fail(Errc::kConflict, "exists", key_path + " already exists");
    }
    FW_ASSIGN(auto versions, RootVersions(dir));
    if (versions.empty()) return Fail(Errc::kNotFound, "no-root", "no root metadata");
    FW_ASSIGN(auto root_env, LoadRootEnvelope(dir, versions.back()));

    FW_TRY(MakeDirs(opts.out_dir, 0700));
    Rollback rollback;
    const SigningKey device_key = SigningKey::Generate();
    rollback.RemoveOnFailure(key_path);
    FW_TRY(device_key.Save(key_path));
    Json device = {{"device_id", opts.device_id},
                   {"vendor", cfg.vendor},
                   {"product", opts.product},
                   {"hardware", opts.hardware},
                   {"max_image_size", opts.max_image_size}};
    FW_TRY(AddLedgerAnchor(dir, cfg, device));
    rollback.RemoveOnFailure(opts.out_dir + "/device.json");
    FW_TRY(WriteFileAtomic(opts.out_dir + "/device.json", device.dump(2) + "\n"));
    rollback.RemoveOnFailure(opts.out_dir + "/root.json");
    FW_TRY(WriteFileAtomic(opts.out_dir + "/root.json", root_env.Serialize()));

    FW_ASSIGN(auto tx, MakeAdmitTx(admission_key, opts.device_id, device_key.PublicHex(), "device",
                                   opts.product, now));
    FW_TRY(catalog.Write([&]() -> Status {
        FW_TRY(catalog.InsertDevice(DeviceRow{opts.device_id, opts.product, opts.hardware,
                                              device_key.PublicHex(), tx.Id()}));
        return catalog.InsertOutbox(tx);
    }));
    rollback.Commit();

    AdmitResult result{opts.device_id, "device", device_key.PublicHex(), tx.Id(), std::nullopt};
    if (!opts.ledger_url.empty()) {
        FW_ASSIGN(auto report, SubmitOutbox(catalog, opts.ledger_url));
        result.ledger = std::move(report);
    }
    return result;
}

Expected<std::string> PublicKeyFromFile(const std::string& path) {
    FW_ASSIGN(auto text, ReadFile(path, 64 << 10));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
        text.pop_back();
    }
    std::string hex = text;
    if (!text.empty() && text.front() == '{') {
        FW_ASSIGN(auto j, ParseJson(text));
        FW_ASSIGN(hex, GetString(j, "public"));
    }
    if (!PublicKeyFromHex(hex)) {
        return Fail(Errc::kInvalid, "bad-key", path + " does not hold an Ed25519 public key");
    }
    return hex;
}

Expected<AdmitResult> AdmitGateway(const AdmitGatewayOptions& opts) {
    FW_TRY(CheckName("gateway name", opts.name));
    if (!PublicKeyFromHex(opts.public_hex)) {
        return Fail(Errc::kInvalid, "bad-key", "the gateway key must be 64 lowercase hex chars");
    }
    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    (void)cfg;
    const std::int64_t now = opts.now != 0 ? opts.now : NowSeconds();
    FW_ASSIGN(auto admission_key, LoadAdmissionKey(dir));
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    FW_ASSIGN(bool exists, catalog.GatewayExists(opts.name));
    if (exists) {
        return Fail(Errc::kConflict, "gateway-exists",
                    "gateway " + opts.name + " is already admitted");
    }
    // Gateways serve every product, so the admit names none.
    FW_ASSIGN(auto tx, MakeAdmitTx(admission_key, opts.name, opts.public_hex, "gateway", "", now));
    FW_TRY(catalog.Write([&]() -> Status {
        FW_TRY(catalog.InsertGateway(opts.name, opts.public_hex, tx.Id()));
        return catalog.InsertOutbox(tx);
    }));
    AdmitResult result{opts.name, "gateway", opts.public_hex, tx.Id(), std::nullopt};
    if (!opts.ledger_url.empty()) {
        FW_ASSIGN(auto report, SubmitOutbox(catalog, opts.ledger_url));
        result.ledger = std::move(report);
    }
    return result;
}

Expected<AdmitResult> Revoke(const RevokeOptions& opts) {
    if (opts.device_id.empty() == opts.gateway.empty()) {
        return Fail(Errc::kInvalid, "bad-subject", "give exactly one of --device or --gateway");
    }
    const bool device = !opts.device_id.empty();
    const std::string subject = device ? opts.device_id : opts.gateway;
    const std::string role = device ? "device" : "gateway";
    FW_TRY(CheckName(role, subject));
    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    (void)cfg;
    const std::int64_t now = opts.now != 0 ? opts.now : NowSeconds();
    FW_ASSIGN(auto admission_key, LoadAdmissionKey(dir));
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    std::string key;
    if (device) {
        FW_ASSIGN(auto row, catalog.Device(subject));
        if (!row)
            return Fail(Errc::kNotFound, "unknown-device",
                        "device " + subject + " was never provisioned here");
        key = row->key;
    } else {
        FW_ASSIGN(auto gw_key, catalog.GatewayKey(subject));
        if (!gw_key)
            return Fail(Errc::kNotFound, "unknown-gateway",
                        "gateway " + subject + " was never admitted here");
        key = *gw_key;
    }
    FW_ASSIGN(bool revoked, catalog.Revoked(subject, role));
    if (revoked)
        return Fail(Errc::kConflict, "already-revoked",
                    role + " " + subject + " is already revoked");
    Tx tx;
    tx.type = txtype::kRevoke;
    tx.recipient = subject;
    tx.time = now;
    tx.nonce = RandomNonce();
    tx.body = RevokeTxBody{key, role}.ToJson();
    tx.SignWith(admission_key);
    FW_TRY(catalog.Write([&]() -> Status {
        FW_TRY(catalog.InsertRevocation(subject, role, key, tx.Id()));
        return catalog.InsertOutbox(tx);
    }));
    AdmitResult result{subject, role, key, tx.Id(), std::nullopt};
    if (!opts.ledger_url.empty()) {
        FW_ASSIGN(auto report, SubmitOutbox(catalog, opts.ledger_url));
        result.ledger = std::move(report);
    }
    return result;
}

}  // namespace fwchain::vendor
