#include "ledger/primitives/block.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "ledger/primitives/merkle.hpp"

namespace fwchain::ledger {

namespace {

void PutLe32(std::uint8_t* out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint32_t GetLe32(const std::uint8_t* in) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | in[i];
    return v;
}

Unexpected BadBlock(const std::string& message) {
    return Fail(Errc::kInvalid, "bad-block", message);
}

Unexpected BadGenesis(const std::string& message) {
    return Fail(Errc::kInvalid, "bad-genesis", message);
}

}  // namespace

void PutLe64(std::uint8_t* out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t GetLe64(const std::uint8_t* in) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | in[i];
    return v;
}

std::array<std::uint8_t, kHeaderSize> BlockHeader::Serialize() const {
    std::array<std::uint8_t, kHeaderSize> out{};
    PutLe32(out.data() + 0, version);
    PutLe32(out.data() + 4, bits);
    PutLe64(out.data() + 8, height);
    PutLe64(out.data() + 16, static_cast<std::uint64_t>(timestamp));
    std::memcpy(out.data() + 24, prev_hash.data(), 32);
    std::memcpy(out.data() + 56, merkle_root.data(), 32);
    std::memcpy(out.data() + 88, miner.data(), 32);
    PutLe64(out.data() + 120, extra_nonce);
    PutLe64(out.data() + 128, nonce);
    return out;
}

BlockHeader BlockHeader::Deserialize(const std::uint8_t* data) {
    BlockHeader h;
    h.version = GetLe32(data + 0);
    h.bits = GetLe32(data + 4);
    h.height = GetLe64(data + 8);
    h.timestamp = static_cast<std::int64_t>(GetLe64(data + 16));
    std::memcpy(h.prev_hash.data(), data + 24, 32);
    std::memcpy(h.merkle_root.data(), data + 56, 32);
    std::memcpy(h.miner.data(), data + 88, 32);
    h.extra_nonce = GetLe64(data + 120);
    h.nonce = GetLe64(data + 128);
    return h;
}

Hash256 BlockHeader::Hash() const {
    const auto bytes = Serialize();
    return Sha256(bytes.data(), bytes.size());
}

Json Block::ToJson() const {
    Json txs_json = Json::array();
    for (const auto& tx : txs) txs_json.push_back(tx.ToJson());
    return Json{{"hash", ToHex(Hash())},
                {"header", ToHex(header.Serialize())},
                {"miner_sig", ToHex(miner_sig)},
                {"message", message},
                {"txs", std::move(txs_json)}};
}

Expected<Block> Block::FromJson(const Json& j) {
    FW_ASSIGN(EncodedBlock e, EncodedBlock::Parse(j));
    return std::move(e).Release();
}

Expected<EncodedBlock> EncodedBlock::Parse(const Json& j, unsigned threads,
                                           const AssumeValid* assume_valid) {
    return ParseImpl(j, threads, assume_valid);
}

Expected<EncodedBlock> EncodedBlock::Parse(Json&& j, unsigned threads,
                                           const AssumeValid* assume_valid) {
    return ParseImpl(j, threads, assume_valid);
}

void EncodedBlock::SetId(std::size_t i) {
    hashes_[i] = Sha256(texts_[i]);
    ids_[i] = ToHex(hashes_[i]);
}

template <typename J>
Expected<EncodedBlock> EncodedBlock::ParseImpl(J& j, unsigned threads,
                                               const AssumeValid* assume_valid) {
    if (!j.is_object()) return BadBlock("block must be a JSON object");
    FW_ASSIGN(std::string header_hex, GetString(j, "header"));
    std::array<std::uint8_t, kHeaderSize> header_bytes{};
    if (!FromHexTo(header_hex, header_bytes)) {
        return BadBlock("header must be " + std::to_string(kHeaderSize) + " bytes of hex");
    }
    EncodedBlock e;
    Block& b = e.block_;
    b.header = BlockHeader::Deserialize(header_bytes.data());
    if (j.contains("hash")) {
        FW_ASSIGN(std::string hash_hex, GetString(j, "hash"));
        if (hash_hex != ToHex(b.Hash())) return BadBlock("hash does not match the header");
    }
    FW_ASSIGN(std::string sig_hex, GetString(j, "miner_sig"));
    auto sig = SignatureFromHex(sig_hex);
    if (!sig) return BadBlock("miner_sig must be 64 bytes of hex");
    b.miner_sig = *sig;
    if (j.contains("message")) {
        FW_ASSIGN(b.message, GetString(j, "message"));
        if (b.message.size() > kMaxMessageSize) return BadBlock("message longer than 256 bytes");
    }
    FW_ASSIGN(const Json* txs_found, GetArray(j, "txs"));
    // The same element, writable when the caller gave the document up (ParseTx moves from it).
    auto* txs = const_cast<J*>(txs_found);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    if (txs->size() > kMaxBlockTxs) return BadBlock("too many transactions");
    e.assumed_ = assume_valid != nullptr && *assume_valid && (*assume_valid)(b.Hash());
    const bool check_signatures = !e.assumed_;
    // ParseTx verifies each signature, the bulk of validating a block from a peer: spread it,
    // with the encoding, over the cores (DESIGN.md §8 compares block validation with Ed25519
    // on every core).
    const std::size_t n = txs->size();
    std::vector<std::optional<Expected<Tx>>> parsed(n);
    e.texts_.resize(n);
    e.ids_.resize(n);
    e.hashes_.resize(n);
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t workers = n < 32 ? 1 : std::min<std::size_t>(threads, 16);
    auto parse_range = [&](std::size_t w) {
        for (std::size_t i = w; i < n; i += workers) {
            if constexpr (std::is_const_v<J>) {
                parsed[i].emplace(ParseTx((*txs)[i], &e.texts_[i], check_signatures));
            } else {
                parsed[i].emplace(ParseTx(std::move((*txs)[i]), &e.texts_[i], check_signatures));
            }
            if (*parsed[i]) e.SetId(i);
        }
    };
    std::vector<std::thread> pool;
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(parse_range, w);
    parse_range(0);
    for (auto& t : pool) t.join();
    b.txs.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto& tx = *parsed[i];
        if (!tx) return Fail(Context(tx.error(), "tx " + std::to_string(i)));
        b.txs.push_back(std::move(*tx));
    }
    e.verified_ = true;
    e.EncodeText();
    return e;
}

EncodedBlock EncodedBlock::Encode(Block block, bool signatures_verified) {
    EncodedBlock e;
    e.verified_ = signatures_verified;
    e.block_ = std::move(block);
    const std::size_t n = e.block_.txs.size();
    e.texts_.resize(n);
    e.ids_.resize(n);
    e.hashes_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        e.texts_[i] = e.block_.txs[i].CanonicalText();
        e.SetId(i);
    }
    e.EncodeText();
    return e;
}

void EncodedBlock::EncodeText() {
    // Canonical(block_.ToJson()) from the tx texts already at hand: keys in sorted order.
    std::size_t size = 512;
    for (const auto& t : texts_) size += t.size() + 1;
    text_.clear();
    text_.reserve(size);
    text_ += R"({"hash":")";
    text_ += ToHex(block_.Hash());
    text_ += R"(","header":")";
    text_ += ToHex(block_.header.Serialize());
    text_ += R"(","message":)";
    AppendCanonicalString(text_, block_.message);
    text_ += R"(,"miner_sig":")";
    text_ += ToHex(block_.miner_sig);
    text_ += R"(","txs":[)";
    for (std::size_t i = 0; i < texts_.size(); ++i) {
        if (i > 0) text_ += ',';
        text_ += texts_[i];
    }
    text_ += "]}";
}

Hash256 MerkleRootOfTxs(const std::vector<Tx>& txs) {
    std::vector<Hash256> ids;
    ids.reserve(txs.size());
    for (const auto& tx : txs) {
        // Tx::Id() is always 64 lowercase hex chars, so this cannot fail.
        ids.push_back(Hash256FromHex(tx.Id()).value_or(Hash256{}));
    }
    return MerkleRoot(ids);
}

bool MeetsBits(const Hash256& hash, std::uint32_t bits) {
    if (bits > 256) return false;
    std::uint32_t full_bytes = bits / 8;
    for (std::uint32_t i = 0; i < full_bytes; ++i) {
        if (hash[i] != 0) return false;
    }
    std::uint32_t rest = bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
    return (hash[full_bytes] & mask) == 0;
}

Json ChainParams::ToJson() const {
    return Json{{"initial_bits", initial_bits},
                {"target_interval", target_interval},
                {"retarget_window", retarget_window},
                {"finality_depth", finality_depth},
                {"confirmations", confirmations}};
}

Expected<ChainParams> ChainParams::FromJson(const Json& j) {
    if (!j.is_object()) return Fail(Errc::kInvalid, "bad-params", "params must be an object");
    ChainParams p;
    FW_ASSIGN(std::uint64_t bits, GetUint(j, "initial_bits"));
    FW_ASSIGN(p.target_interval, GetInt(j, "target_interval"));
    FW_ASSIGN(std::uint64_t window, GetUint(j, "retarget_window"));
    FW_ASSIGN(p.finality_depth, GetUint(j, "finality_depth"));
    FW_ASSIGN(std::uint64_t confirmations, GetUint(j, "confirmations"));
    if (bits > kMaxBits) return Fail(Errc::kInvalid, "bad-params", "initial_bits above 120");
    if (p.target_interval < 1 || p.target_interval > 86400 * 7) {
        return Fail(Errc::kInvalid, "bad-params", "target_interval must be in [1, 604800] s");
    }
    // The retarget measures window-1 intervals, so a window needs at least two blocks.
    if (window < 2 || window > 100000) {
        return Fail(Errc::kInvalid, "bad-params", "retarget_window must be in [2, 100000]");
    }
    if (p.finality_depth < 1) return Fail(Errc::kInvalid, "bad-params", "finality_depth < 1");
    if (confirmations < 1 || confirmations > 10000) {
        return Fail(Errc::kInvalid, "bad-params", "confirmations must be in [1, 10000]");
    }
    p.initial_bits = static_cast<std::uint32_t>(bits);
    p.retarget_window = static_cast<std::uint32_t>(window);
    p.confirmations = static_cast<std::uint32_t>(confirmations);
    return p;
}

Block MakeGenesisBlock(const GenesisSpec& spec, const SigningKey& miner_key) {
    Json miners = Json::array();
    for (const auto& m : spec.miners) miners.push_back(ToHex(m));
    Tx tx;
    tx.type = txtype::kGenesis;
    tx.recipient = spec.root.signed_doc.value("vendor", std::string());
    tx.time = spec.timestamp;
    // A random nonce makes two vendors' genesis txs distinct even with identical inputs.
    std::uint8_t nonce_bytes[8];
    RandomBytes(nonce_bytes, sizeof(nonce_bytes));
    tx.nonce = GetLe64(nonce_bytes);
    tx.body = Json{{"root", spec.root.ToJson()},
                   {"root_sha256", spec.root.SignedHash()},
                   {"miners", std::move(miners)},
                   {"params", spec.params.ToJson()}};
    tx.SignWith(miner_key);

    Block b;
    b.message = spec.message.substr(0, kMaxMessageSize);
    b.txs.push_back(std::move(tx));
    b.header.version = 1;
    b.header.bits = spec.params.initial_bits;
    b.header.height = 0;
    b.header.timestamp = spec.timestamp;
    b.header.merkle_root = MerkleRootOfTxs(b.txs);
    b.header.miner = miner_key.Public();
    // Genesis is mined once at the easiest difficulty; a plain loop is fast enough here and
    // keeps primitives free of the miner's threads.
    while (!MeetsBits(b.header.Hash(), b.header.bits)) ++b.header.nonce;
    const Hash256 hash = b.header.Hash();
    b.miner_sig = miner_key.Sign(hash.data(), hash.size());
    return b;
}

Expected<GenesisInfo> ParseGenesisTx(const Tx& tx) {
    if (tx.type != txtype::kGenesis) return BadGenesis("first tx is not of type genesis");
    if (!tx.body.is_object()) return BadGenesis("genesis body must be an object");
    GenesisInfo info;
    const auto* root_json = tx.body.contains("root") ? &tx.body["root"] : nullptr;
    if (root_json == nullptr) return BadGenesis("genesis body lacks root");
    auto env = ParseEnvelope(*root_json);
    if (!env) return BadGenesis("root envelope: " + env.error().ToString());
    auto root = ParseRoot(*env);
    if (!root) return BadGenesis("root: " + root.error().ToString());
    const RoleKeys* root_role = root->Role("root");
    if (root_role == nullptr) return BadGenesis("root has no root role");
    auto self_signed =
        VerifyThreshold(*env, root->keys, root_role->keyids, root_role->threshold, "root");
    if (!self_signed) return BadGenesis("root not self-signed: " + self_signed.error().ToString());
    auto root_sha = GetString(tx.body, "root_sha256");
    if (!root_sha || *root_sha != env->SignedHash()) {
        return BadGenesis("root_sha256 does not name the root");
    }
    if (tx.recipient != root->vendor) return BadGenesis("recipient must be the root vendor");
    auto miners = GetArray(tx.body, "miners");
    if (!miners || (*miners)->empty()) return BadGenesis("genesis names no miners");
    for (const auto& m : **miners) {
        auto key = m.is_string() ? PublicKeyFromHex(m.get<std::string>()) : std::nullopt;
        if (!key) return BadGenesis("miner key is not 32-byte hex");
        info.miners.push_back(*key);
    }
    auto params_json = GetObject(tx.body, "params");
    if (!params_json) return BadGenesis("genesis body lacks params");
    auto params = ChainParams::FromJson(**params_json);
    if (!params) return BadGenesis("params: " + params.error().ToString());
    info.params = *params;
    info.root = std::move(*root);
    return info;
}

}  // namespace fwchain::ledger
