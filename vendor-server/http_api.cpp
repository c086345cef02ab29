#include "vendor-server/http_api.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

#include "common/adapters/log.hpp"
#include "common/core/bytes.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "vendor-server/metadata_store.hpp"
#include "vendor-server/publish.hpp"
#include "vendor-server/torrent.hpp"

namespace fwchain::vendor {
namespace {

// ?since=N, strictly decimal; absent = 0.
std::optional<std::uint64_t> SinceParam(const http::Request& req) {
    if (!req.HasParam("since")) return std::uint64_t{0};
    const std::string v = req.Param("since");
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
    return n;
}

constexpr std::size_t kMaxMetaSize = 64 * 1024;  // the JSON part of an admin upload

void SendBencode(http::Response& res, std::string body) {
    res.status = 200;  // BEP 3: failures are 200 with a "failure reason"
    res.SetHeader("Cache-Control", "no-store");
    res.SetContent(std::move(body), "text/plain");
}

// An upload's temp file, removed unless released.
class TempUpload {
  public:
    ~TempUpload() {
        if (fd_ >= 0) ::close(fd_);
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    Status Open(const std::string& dir) {
        FW_TRY(MakeDirs(dir, 0700));
        std::string templ = dir + "/upload-XXXXXX";
        fd_ = ::mkstemp(templ.data());
        if (fd_ < 0) return Fail(Errc::kIo, "io", "cannot create an upload file in " + dir);
        path_ = templ;
        return {};
    }
    bool Write(const char* data, std::size_t size) {
        while (size > 0) {
            const ssize_t n = ::write(fd_, data, size);
            if (n <= 0) return false;
            data += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }
    bool Close() {
        const bool ok = ::fsync(fd_) == 0 && ::close(fd_) == 0;
        fd_ = -1;
        return ok;
    }
    const std::string& path() const { return path_; }

  private:
    int fd_ = -1;
    std::string path_;
};

std::string OptString(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool OptBool(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
}

// The admin upload's metadata -> publish options and the Git source CI read on its side.
Status ParseUploadMeta(const Json& meta, PublishOptions& opts, TagInfo& tag,
                       std::string& image_name) {
    if (!meta.is_object()) return Fail(Errc::kInvalid, "bad-meta", "meta must be an object");
    FW_ASSIGN(opts.product, GetString(meta, "product"));
    FW_ASSIGN(const Json* hw, GetArray(meta, "hardware"));
    for (const auto& h : *hw) {
        if (!h.is_string()) return Fail(Errc::kInvalid, "bad-meta", "hardware: strings only");
        opts.hardware.push_back(h.get<std::string>());
    }
    opts.version = OptString(meta, "version");
    if (meta.contains("expires_days")) {
        FW_ASSIGN(opts.expires_days, GetInt(meta, "expires_days"));
    }
    if (auto r = meta.find("rollout"); r != meta.end()) {
        auto rollout = Rollout::Parse(*r);
        if (!rollout) return Fail(Errc::kInvalid, "bad-rollout", rollout.error().message);
        opts.rollout = std::move(*rollout);
    }
    if (meta.contains("min_approvals")) {
        FW_ASSIGN(auto n, GetUint(meta, "min_approvals"));
        if (n > 100) return Fail(Errc::kInvalid, "bad-approvals", "min_approvals at most 100");
        opts.min_approvals = static_cast<std::uint32_t>(n);
    }
    FW_ASSIGN(tag.tag, GetString(meta, "tag"));
    FW_ASSIGN(tag.commit, GetString(meta, "commit"));
    if (!IsHex(tag.commit, 20) && !IsHex(tag.commit, 32)) {
        return Fail(Errc::kInvalid, "bad-meta", "commit must be a hex object id");
    }
    tag.repo = OptString(meta, "repo");
    tag.tagger = OptString(meta, "tagger");
    tag.notes = OptString(meta, "notes");
    tag.annotated = OptBool(meta, "annotated");
    if (!tag.annotated && !OptBool(meta, "allow_lightweight")) {
        return Fail(
            Errc::kInvalid, "lightweight-tag",
            "tag " + tag.tag + " is lightweight; use an annotated tag or allow_lightweight");
    }
    image_name = OptString(meta, "image_name");
    if (image_name.empty()) image_name = "image.bin";
    FW_TRY(CheckName("image_name", image_name));
    return {};
}

}  // namespace

bool TokenMatches(const std::string& presented, const std::string& expected) {
    if (expected.empty()) return false;
    const Hash256 a = Sha256(presented);
    const Hash256 b = Sha256(expected);
    volatile std::uint8_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
    }
    return diff == 0;
}

Expected<std::unique_ptr<ApiServer>> ApiServer::Create(const DataDir& dir,
                                                       const http::ServerOptions& opts,
                                                       ApiConfig config) {
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    http::ServerOptions so = opts;
    const bool tls = !config.tls_cert.empty() || !config.tls_key.empty();
    if (tls) {
        if (config.tls_cert.empty() || config.tls_key.empty()) {
            return Fail(Errc::kInvalid, "bad-tls", "--tls-cert and --tls-key go together");
        }
        auto cert = ReadFile(config.tls_cert, 1 << 20);
        auto key = ReadFile(config.tls_key, 1 << 20);
        if (!cert || !key || cert->find("-----BEGIN") == std::string::npos ||
            key->find("-----BEGIN") == std::string::npos) {
            return Fail(
                Errc::kInvalid, "bad-tls",
                "cannot load the TLS certificate/key " + config.tls_cert + ", " + config.tls_key);
        }
        so.tls_cert_pem = std::move(*cert);
        so.tls_key_pem = std::move(*key);
    }
    const std::uint64_t max_image = cfg.max_image_size;
    std::unique_ptr<ApiServer> api(
        new ApiServer(dir, std::move(catalog), std::move(config), max_image));
    if (tls) api->scheme_ = "https";
    if (!so.metrics) so.metrics = std::make_shared<metrics::Registry>();
    api->ExportMetrics(*so.metrics);
    api->server_ = std::make_unique<http::Server>(api->Routes(), so);
    return api;
}

ApiServer::ApiServer(DataDir dir, Catalog catalog, ApiConfig config, std::uint64_t max_image_size)
    : dir_(std::move(dir)),
      catalog_(std::move(catalog)),
      config_(std::move(config)),
      max_image_size_(max_image_size),
      tracker_(config_.tracker_interval) {}

Expected<int> ApiServer::Bind(const std::string& host, int port) {
    FW_ASSIGN(int bound, server_->Listen(host, port));
    if (config_.public_url.empty()) {
        const bool v6 = host.find(':') != std::string::npos;
        config_.public_url =
            scheme_ + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(bound);
    }
    while (!config_.public_url.empty() && config_.public_url.back() == '/') {
        config_.public_url.pop_back();
    }
    return bound;
}

void ApiServer::ExportMetrics(metrics::Registry& m) {
    const std::string pub = "fwchain_vendor_publishes_total";
    const std::string pub_help = "Releases uploaded through the admin API, by outcome.";
    m.AddCounterFn(pub, pub_help, publishes_ok_, {{"result", "published"}});
    m.AddCounterFn(pub, pub_help, publishes_failed_, {{"result", "refused"}});
    m.AddCounterFn("fwchain_vendor_image_bytes_served_total",
                   "Bytes of image responses started (web seed and HTTP fallback).", image_bytes_);
    m.AddCounterFn("fwchain_vendor_tracker_announces_total", "Tracker announces answered.",
                   announces_);
    m.AddGaugeFn("fwchain_vendor_tracker_peers", "Live peers in all of the tracker's swarms.",
                 [this] { return static_cast<double>(tracker_.TotalPeers(NowSeconds())); });
    const std::string admin = "fwchain_vendor_admin_requests_total";
    const std::string admin_help = "Admin API requests, by token check.";
    m.AddCounterFn(admin, admin_help, admin_ok_, {{"result", "authorized"}});
    m.AddCounterFn(admin, admin_help, admin_refused_, {{"result", "refused"}});
}

void ApiServer::Run() { server_->Wait(); }

void ApiServer::Stop() { server_->Stop(); }

http::Router ApiServer::Routes() {
    // Files, the catalog and the tracker's lock may block: worker threads, except for answers
    // that never wait (health, the token check, an image from its descriptor).
    http::Router s;
    const http::RouteOptions fast{http::Exec::kInline};
    s.Get(
        "/v1/health",
        [](const http::Request&, http::Response& res) {
            http::SendJson(res, Json{{"status", "ok"}});
        },
        fast);
    s.Get(
        "/v1/ledger-peers",
        [this](const http::Request&, http::Response& res) {
            http::SendJson(res, Json{{"peers", config_.ledger_peers}});
        },
        fast);
    s.Get("/v1/roots", [this](const http::Request& q, http::Response& r) { GetRoots(q, r); });
    s.Get("/v1/timestamp",
          [this](const http::Request& q, http::Response& r) { GetTimestamp(q, r); });
    s.Get(R"(/v1/manifests/([^/]+))",
          [this](const http::Request& q, http::Response& r) { GetManifests(q, r); });
    s.Get(R"(/v1/images/(.+))",
          [this](const http::Request& q, http::Response& r) { GetImage(q, r); }, fast);
    s.Get(R"(/v1/torrents/([^/]+)\.torrent)",
          [this](const http::Request& q, http::Response& r) { GetTorrent(q, r); });
    s.Get("/announce", [this](const http::Request& q, http::Response& r) { Announce(q, r); });
    // Lets a client check its token before streaming an image.
    s.Get(
        "/v1/admin/auth",
        [this](const http::Request& q, http::Response& r) {
            if (Authorized(q, r)) http::SendJson(r, Json{{"status", "ok"}});
        },
        fast);
    // The image streams to a temp file as it arrives; up to twice the image limit is drained
    // so an oversized upload gets a clean 413, not a reset.
    s.Upload(
        "/v1/admin/releases",
        [this](const http::Request& q, http::Response& r) { return OpenUpload(q, r); },
        2 * max_image_size_ + kMaxMetaSize + (16 << 20));
    return s;
}

void ApiServer::GetRoots(const http::Request& req, http::Response& res) {
    auto since = SinceParam(req);
    if (!since) return http::SendError(res, 400, "bad-request", "since must be an integer");
    auto versions = RootVersions(dir_);
    if (!versions) return http::SendError(res, versions.error());
    // Stored roots are our own canonical files: splice them without re-parsing.
    std::string body = "{\"roots\":[";
    bool first = true;
    for (std::uint64_t v : *versions) {
        if (v <= *since) continue;
        auto text = ReadFile(dir_.RootFile(v));
        if (!text) return http::SendError(res, text.error());
        if (!first) body += ',';
        body += *text;
        first = false;
    }
    body += "]}";
    http::SendJsonText(res, std::move(body));
}

void ApiServer::GetTimestamp(const http::Request&, http::Response& res) {
    auto text = ReadFile(dir_.TimestampFile());
    if (!text) return http::SendError(res, text.error());
    // Clients must not cache the freshness document.
    res.SetHeader("Cache-Control", "no-store");
    http::SendJsonText(res, std::move(*text));
}

void ApiServer::GetManifests(const http::Request& req, http::Response& res) {
    const std::string product = req.matches[1];
    if (!ValidName(product)) return http::SendError(res, 400, "bad-product", "invalid product");
    auto since = SinceParam(req);
    if (!since) return http::SendError(res, 400, "bad-request", "since must be an integer");
    Expected<std::vector<ReleaseRow>> rows = std::vector<ReleaseRow>{};
    {
        std::lock_guard<std::mutex> lock(catalog_mu_);
        rows = catalog_.Releases(product, *since);
    }
    if (!rows) return http::SendError(res, rows.error());
    std::string body = "{\"manifests\":[";
    for (std::size_t i = 0; i < rows->size(); ++i) {
        auto text = ReadFile(dir_.ManifestFile(product, (*rows)[i].sequence));
        if (!text) {
            spdlog::error("manifest {} {} listed in the catalog is unreadable: {}", product,
                          (*rows)[i].sequence, text.error().ToString());
            return http::SendError(res, text.error());
        }
        if (i > 0) body += ',';
        body += *text;
    }
    // The ids of their release txs, in the same order: gateways ask the ledger for them
    // directly (docs/protocol.md).
    body += "],\"release_txs\":[";
    for (std::size_t i = 0; i < rows->size(); ++i) {
        if (i > 0) body += ',';
        body += Canonical(Json((*rows)[i].tx_id));
    }
    body += "]}";
    http::SendJsonText(res, std::move(body));
}

void ApiServer::GetImage(const http::Request& req, http::Response& res) {
    // Only a 64-char lowercase hex name ever reaches the filesystem: no "..", no "/", no
    // encoded tricks, and never a file outside images/.
    const std::string name = req.matches[1];
    if (!IsHex(name, 32)) {
        return http::SendError(res, 404, "not-found", "no such image");
    }
    const std::string path = dir_.Image(name);
    if (!FileExists(path)) return http::SendError(res, 404, "not-found", "no such image");
    auto st = http::ServeFile(req, res, path);
    if (!st) return http::SendError(res, st.error());
    if (res.file()) image_bytes_.Inc(res.file()->length);
}

}  // namespace fwchain::vendor

namespace fwchain::vendor {

void ApiServer::GetTorrent(const http::Request& req, http::Response& res) {
    const std::string name = req.matches[1];
    if (!IsHex(name, 32)) return http::SendError(res, 404, "not-found", "no such torrent");
    const std::string path = dir_.Torrent(name);
    if (!FileExists(path)) return http::SendError(res, 404, "not-found", "no such torrent");
    auto stored = ReadFile(path);
    if (!stored) return http::SendError(res, stored.error());
    auto out = TorrentWithUrls(*stored, config_.public_url + "/announce",
                               config_.public_url + "/v1/images/" + name);
    if (!out) return http::SendError(res, out.error());
    res.SetContent(std::move(*out), "application/x-bittorrent");
}

void ApiServer::Announce(const http::Request& req, http::Response& res) {
    const auto q = req.target.find('?');
    std::string error;
    auto ann = ParseAnnounceQuery(
        q == std::string::npos ? std::string_view() : std::string_view(req.target).substr(q + 1),
        &error);
    if (!ann) return SendBencode(res, TrackerFailure(error));
    ann->ip = req.remote_addr;
    Expected<std::optional<TorrentRow>> row = std::optional<TorrentRow>{};
    {
        std::lock_guard<std::mutex> lock(catalog_mu_);
        row = catalog_.TorrentByAnnounceHash(ToHex(ann->info_hash));
    }
    if (!row) return SendBencode(res, TrackerFailure("tracker storage error"));
    // Only the vendor's own releases: this is not an open tracker.
    if (!*row) return SendBencode(res, TrackerFailure("unknown info_hash"));
    // v1 and v2 announces of a hybrid torrent are one swarm: the image.
    announces_.Inc();
    SendBencode(res, tracker_.Announce((*row)->image_sha256, *ann, NowSeconds()));
}

bool ApiServer::Authorized(const http::Request& req, http::Response& res) {
    if (config_.admin_token.empty()) {
        http::SendError(res, 404, "admin-disabled",
                        "the admin API is off (serve --admin-token-file)");
        return false;
    }
    const std::string auth(req.Header("Authorization").value_or(""));
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) != 0 ||
        !TokenMatches(auth.substr(prefix.size()), config_.admin_token)) {
        res.SetHeader("WWW-Authenticate", "Bearer");
        http::SendError(res, 401, "unauthorized", "missing or wrong bearer token");
        admin_refused_.Inc();
        return false;
    }
    admin_ok_.Inc();
    return true;
}

namespace {

// One admin upload: part `meta` in memory (bounded), part `image` straight to a temp file.
class ReleaseUpload final : public http::UploadStream {
  public:
    ReleaseUpload(std::string data_dir, std::uint64_t max_image, metrics::Counter& published,
                  metrics::Counter& refused)
        : data_dir_(std::move(data_dir)),
          max_image_(max_image),
          published_(published),
          refused_(refused) {}
    Status Open() { return upload_.Open(data_dir_ + "/uploads"); }

    Status OnData(std::string_view name, std::string_view data) override {
        if (name == "meta") {
            have_meta_ = true;
            if (meta_.size() + data.size() > kMaxMetaSize) {
                return Fail(Errc::kTooLarge, "meta-too-large", "the meta part exceeds 64 KiB");
            }
            meta_.append(data);
            return {};
        }
        if (name != "image") return {};  // other parts are ignored
        have_image_ = true;
        image_size_ += data.size();
        if (image_size_ > max_image_) {
            return Fail(
                Errc::kTooLarge, "image-too-large",
                "the image is larger than the limit of " + std::to_string(max_image_) + " bytes");
        }
        if (!upload_.Write(data.data(), data.size())) {
            return Fail(Errc::kIo, "io", "cannot store the upload");
        }
        return {};
    }

    void Finish(const http::Request&, http::Response& res) override {
        Publish(res);
        (res.status < 300 ? published_ : refused_).Inc();
    }

  private:
    void Publish(http::Response& res) {
        if (!upload_.Close()) return http::SendError(res, 500, "io", "cannot store the upload");
        if (!have_meta_ || !have_image_) {
            return http::SendError(res, 400, "bad-upload",
                                   "expected multipart/form-data with parts meta and image");
        }
        auto meta = ParseJson(meta_, kMaxMetaSize);
        if (!meta) return http::SendError(res, meta.error());
        PublishOptions opts;
        opts.data_dir = data_dir_;
        TagInfo tag;
        ImageInput image;
        if (auto st = ParseUploadMeta(*meta, opts, tag, image.name); !st) {
            return http::SendError(res, st.error());
        }
        image.file = upload_.path();
        auto result = PublishFromSource(opts, tag, image);
        if (!result) return http::SendError(res, result.error());
        spdlog::info("admin upload published {} {} sequence {}", result->product, result->version,
                     result->sequence);
        http::SendJson(res, result->ToJson());
    }

    std::string data_dir_;
    std::uint64_t max_image_;
    metrics::Counter& published_;
    metrics::Counter& refused_;
    TempUpload upload_;
    std::string meta_;
    std::uint64_t image_size_ = 0;
    bool have_meta_ = false;
    bool have_image_ = false;
};

}  // namespace

std::unique_ptr<http::UploadStream> ApiServer::OpenUpload(const http::Request& req,
                                                          http::Response& res) {
    if (!Authorized(req, res)) return nullptr;
    const std::string type(req.Header("Content-Type").value_or(""));
    if (type.rfind("multipart/form-data", 0) != 0) {
        http::SendError(res, 400, "bad-upload",
                        "expected multipart/form-data with parts meta and image");
        return nullptr;
    }
    auto upload = std::make_unique<ReleaseUpload>(dir_.Root(), max_image_size_, publishes_ok_,
                                                  publishes_failed_);
    if (auto st = upload->Open(); !st) {
        http::SendError(res, st.error());
        return nullptr;
    }
    return upload;
}

}  // namespace fwchain::vendor
