#include "vendor-server/upload.hpp"

#include <fstream>
#include <memory>

#include "common/adapters/http.hpp"
#include "vendor-server/git_source.hpp"

namespace fwchain::vendor {
Expected<Json> PublishToServer(const PublishOptions& opts, const UploadOptions& up) {
    FW_TRY(CheckReleaseOptions(opts));
    if (up.token.empty()) return Fail(Errc::kInvalid, "no-token", "--token is required");
    FW_ASSIGN(auto url, http::ParseUrl(up.server_url));
    FW_ASSIGN(auto tag, ReadTag(opts.repo, opts.tag));
    if (!tag.annotated && !opts.allow_lightweight) {
        return Fail(Errc::kInvalid, "lightweight-tag",
                    "tag " + opts.tag +
                        " is lightweight (no tagger, no notes); use an annotated tag or "
                        "--allow-lightweight");
    }
    Json meta = {{"product", opts.product},
                 {"hardware", opts.hardware},
                 {"tag", tag.tag},
                 {"commit", tag.commit},
                 {"repo", tag.repo},
                 {"tagger", tag.tagger},
                 {"notes", tag.notes},
                 {"annotated", tag.annotated},
                 {"allow_lightweight", opts.allow_lightweight},
                 {"expires_days", opts.expires_days}};
    if (!opts.version.empty()) meta["version"] = opts.version;
    if (opts.rollout_percent != -1) meta["rollout_percent"] = opts.rollout_percent;
    if (opts.rollout_start != 0) meta["rollout_start"] = opts.rollout_start;
    if (opts.min_approvals != 0) meta["min_approvals"] = opts.min_approvals;

    httplib::MultipartFormDataItems items = {{"meta", meta.dump(), "", "application/json"}};
    httplib::MultipartFormDataProviderItems providers;
    std::string tree_bytes;
    std::shared_ptr<std::ifstream> file;
    const ImageRef ref = ParseImageRef(opts.image);
    meta["image_name"] = ref.name;
    items[0].content = meta.dump();
    if (ref.in_tree) {
        FW_ASSIGN(tree_bytes, ReadTreeFile(opts.repo, opts.tag, ref.path));
        items.push_back({"image", std::move(tree_bytes), ref.name, "application/octet-stream"});
    } else {
        if (!opts.allow_dirty) FW_TRY(CheckWorkTreeClean(opts.repo, ref.path));
        file = std::make_shared<std::ifstream>(ref.path, std::ios::binary);
        if (!*file) return Fail(Errc::kNotFound, "no-image", "cannot read image " + ref.path);
        // Streamed from disk in 64 KiB pieces (chunked): CI runners need not hold the image.
        providers.push_back({"image",
                             [file](std::size_t, httplib::DataSink& sink) {
                                 char buf[64 * 1024];
                                 file->read(buf, sizeof buf);
                                 const auto n = file->gcount();
                                 if (n > 0) sink.write(buf, static_cast<std::size_t>(n));
                                 if (file->eof()) sink.done();
                                 return !file->bad();
                             },
                             ref.name, "application/octet-stream"});
    }

    httplib::Client cli(url.Origin());
    cli.set_tcp_nodelay(true);
    cli.set_connection_timeout(10, 0);
    cli.set_read_timeout(300, 0);  // the server hashes, signs and makes the torrent
    cli.set_write_timeout(300, 0);
    if (url.scheme == "https") {
        cli.enable_server_certificate_verification(true);
        if (!up.ca_cert.empty()) cli.set_ca_cert_path(up.ca_cert.c_str());
    }
    httplib::Headers headers = {{"Authorization", "Bearer " + up.token}};
    // Token first: a refused upload would be cut off mid-body.
    auto res = cli.Get(url.base_path + "/v1/admin/auth", headers);
    if (res && res->status == 200) {
        res = cli.Post(url.base_path + "/v1/admin/releases", headers, items, providers);
    }
    if (!res) {
        return Fail(Errc::kNetwork, "upload-failed",
                    "cannot reach " + up.server_url + ": " + httplib::to_string(res.error()));
    }
    auto body = ParseJson(res->body, 1 << 20);
    if (res->status != 200) {
        std::string reason = "http-" + std::to_string(res->status);
        std::string message = "the server answered " + std::to_string(res->status);
        if (body && body->is_object()) {
            if (body->contains("error") && (*body)["error"].is_string()) {
                reason = (*body)["error"].get<std::string>();
            }
            if (body->contains("message") && (*body)["message"].is_string()) {
                message = (*body)["message"].get<std::string>();
            }
        }
        const Errc code = res->status == 401 || res->status == 403 ? Errc::kUnauthorized
                          : res->status == 413                     ? Errc::kTooLarge
                          : res->status == 409                     ? Errc::kConflict
                          : res->status == 404                     ? Errc::kNotFound
                          : res->status >= 500                     ? Errc::kNetwork
                                                                   : Errc::kInvalid;
        return Fail(code, reason, message);
    }
    if (!body) return Fail(Errc::kNetwork, "bad-answer", "the server's answer is not JSON");
    return *body;
}

}  // namespace fwchain::vendor
