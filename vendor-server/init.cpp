#include "vendor-server/init.hpp"

#include <filesystem>
#include <system_error>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "ledger/primitives/block.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/metadata_store.hpp"

namespace fwchain::vendor {
namespace fs = std::filesystem;

Json InitResult::ToJson() const {
    return Json{{"genesis_hash", genesis_hash},
                {"root_keyid", root_keyid},
                {"keyids", keyids},
                {"node_key", node_key}};
}

namespace {

Status CheckFreshDir(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return {};
    if (!fs::is_directory(path, ec)) {
        return Fail(Errc::kConflict, "exists", path + " exists and is not a directory");
    }
    if (!fs::is_empty(path, ec) || ec) {
        return Fail(Errc::kConflict, "exists",
                    path + " is not empty; refusing to initialise over an existing data dir");
    }
    return {};
}

}  // namespace

Expected<InitResult> Init(const InitOptions& opts) {
    FW_TRY(CheckName("vendor", opts.vendor));
    if (opts.expires_days <= 0) {
        return Fail(Errc::kInvalid, "bad-expiry", "--expires-days must be positive");
    }
    if (opts.max_image_size == 0) {
        return Fail(Errc::kInvalid, "bad-size", "--max-image-size must be positive");
    }
    if (opts.bits > 64) return Fail(Errc::kInvalid, "bad-bits", "--bits must be at most 64");
    FW_TRY(CheckFreshDir(opts.data_dir));
    const std::int64_t now = opts.now != 0 ? opts.now : NowSeconds();
    const DataDir dir(opts.data_dir);

    FW_TRY(MakeDirs(dir.Root(), 0700));
    FW_TRY(MakeDirs(dir.KeysDir(), 0700));
    FW_TRY(MakeDirs(dir.RootsDir()));
    FW_TRY(MakeDirs(dir.ImagesDir()));
    FW_TRY(MakeDirs(dir.Root() + "/manifests"));

    InitResult result;
    std::map<std::string, SigningKey> keys;
    for (const char* role : {kRootRole, kReleaseRole, kTimestampRole, kAdmissionRole, kNodeKey}) {
        SigningKey key = SigningKey::Generate();
        FW_TRY(key.Save(dir.Key(role)));
        result.keyids[role] = key.Id();
        keys.emplace(role, std::move(key));
    }

    // Each online role gets its own key so a compromise of one (the timestamp key lives on the
    // server) does not grant the others. The approver role starts empty: approvals are opt-in
    // (manifests without min_approvals need none) and approver keys belong to QA/auditors, who
    // are added by a root rotation. Threshold 1 keeps the role well-formed.
    Root root;
    root.vendor = opts.vendor;
    root.version = 1;
    root.issued = now;
    root.expires = now + opts.expires_days * kDay;
    for (const char* role : {kRootRole, kReleaseRole, kTimestampRole, kAdmissionRole}) {
        const SigningKey& key = keys.at(role);
        root.keys[key.Id()] = key.Public();
        root.roles[role] = RoleKeys{{key.Id()}, 1};
    }
    root.roles[kApproverRole] = RoleKeys{{}, 1};
    Envelope root_env = SignDocument(MakeRootSigned(root), {&keys.at(kRootRole)});
    // Check our own output with the same rule a device applies at provisioning.
    auto verified = VerifyInitialRoot(root_env, now);
    if (!verified) return Fail(Context(verified.error(), "new root does not verify"));
    FW_TRY(WriteFileAtomic(dir.RootFile(1), root_env.Serialize()));
    result.root_keyid = keys.at(kRootRole).Id();

    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    FW_TRY(WriteTimestamp(dir, catalog, keys.at(kTimestampRole), now, kDefaultTimestampLifetime));

    ledger::GenesisSpec spec;
    spec.root = root_env;
    spec.miners = {keys.at(kNodeKey).Public()};
    spec.params.initial_bits = opts.bits;
    spec.timestamp = opts.genesis_time != 0 ? opts.genesis_time : now;
    spec.message = "fwchain genesis for " + opts.vendor;
    const ledger::Block genesis = ledger::MakeGenesisBlock(spec, keys.at(kNodeKey));
    result.genesis_hash = ToHex(genesis.Hash());
    result.node_key = keys.at(kNodeKey).PublicHex();
    FW_TRY(WriteFileAtomic(dir.Genesis(), genesis.ToJson().dump(2) + "\n"));

    // config.json last: its presence is what marks the data dir as initialised.
    VendorConfig cfg{opts.vendor, result.genesis_hash, kDefaultTimestampLifetime,
                     opts.max_image_size};
    FW_TRY(WriteFileAtomic(dir.Config(), cfg.ToJson().dump(2) + "\n"));
    return result;
}

}  // namespace fwchain::vendor
