#include "vendor-server/data_dir.hpp"

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/names.hpp"

namespace fwchain::vendor {

Json VendorConfig::ToJson() const {
    return Json{{"vendor", vendor},
                {"genesis_hash", genesis_hash},
                {"timestamp_lifetime", timestamp_lifetime},
                {"max_image_size", max_image_size}};
}

Expected<VendorConfig> VendorConfig::Load(const DataDir& dir) {
    if (!FileExists(dir.Config())) {
        return Fail(Errc::kNotFound, "not-initialized",
                    "no vendor data dir at " + dir.Root() + " (no " + dir.Config() +
                        "; run `vendor-server init`)");
    }
    // It exists: whatever is wrong with it now is not "run init" (that would refuse, the dir
    // is not empty) but a broken file to repair.
    auto j = LoadJsonFile(dir.Config());
    if (!j) {
        return Fail(Errc::kInvalid, "bad-config",
                    dir.Config() + " is malformed: " + j.error().ToString());
    }
    auto field = [&](const Error& e) {
        return Fail(Errc::kInvalid, "bad-config", dir.Config() + ": " + e.message);
    };
    VendorConfig cfg;
    auto vendor = GetString(*j, "vendor");
    if (!vendor) return field(vendor.error());
    cfg.vendor = *vendor;
    auto genesis = GetString(*j, "genesis_hash");
    if (!genesis) return field(genesis.error());
    cfg.genesis_hash = *genesis;
    if (j->contains("timestamp_lifetime")) {
        auto lifetime = GetInt(*j, "timestamp_lifetime");
        if (!lifetime) return field(lifetime.error());
        cfg.timestamp_lifetime = *lifetime;
        if (cfg.timestamp_lifetime < 60) {
            return Fail(Errc::kInvalid, "bad-config", "timestamp_lifetime must be >= 60 seconds");
        }
    }
    if (j->contains("max_image_size")) {
        auto max_size = GetInt(*j, "max_image_size");
        if (!max_size) return field(max_size.error());
        const auto max = *max_size;
        if (max <= 0) return Fail(Errc::kInvalid, "bad-config", "max_image_size must be > 0");
        cfg.max_image_size = static_cast<std::uint64_t>(max);
    }
    return cfg;
}

bool ValidName(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (alnum) continue;
        if (i == 0) return false;
        if (c != '.' && c != '_' && c != '-') return false;
    }
    return true;
}

Status CheckName(std::string_view what, std::string_view name) {
    if (ValidName(name)) return {};
    return Fail(Errc::kInvalid, "bad-name",
                std::string(what) + " '" + std::string(name) +
                    "' must be 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit");
}

Status CheckProductName(std::string_view name) {
    if (ValidProductName(name)) return {};
    return Fail(Errc::kInvalid, "bad-name",
                "product '" + std::string(name) + "' must be " + std::string(kProductNameRule) +
                    " (gateways refuse any other product name)");
}

std::uint64_t RandomNonce() {
    std::uint8_t b[8];
    RandomBytes(b, sizeof b);
    std::uint64_t v = 0;
    for (std::uint8_t x : b) v = (v << 8) | x;
    return v;
}

}  // namespace fwchain::vendor
