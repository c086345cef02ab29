#include "vendor-server/git_source.hpp"

#include <git2.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <system_error>

namespace fwchain::vendor {
namespace {

// libgit2 needs one global init per process; it is never shut down (other threads may use it).
void InitLibgit2() {
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
}

std::string LastGitError() {
    const git_error* e = git_error_last();
    return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

template <typename T, void (*F)(T*)>
struct GitDeleter {
    void operator()(T* p) const {
        if (p != nullptr) F(p);
    }
};
using RepoPtr = std::unique_ptr<git_repository, GitDeleter<git_repository, git_repository_free>>;
using RefPtr = std::unique_ptr<git_reference, GitDeleter<git_reference, git_reference_free>>;
using ObjPtr = std::unique_ptr<git_object, GitDeleter<git_object, git_object_free>>;
using RemotePtr = std::unique_ptr<git_remote, GitDeleter<git_remote, git_remote_free>>;
using TreePtr = std::unique_ptr<git_tree, GitDeleter<git_tree, git_tree_free>>;
using EntryPtr = std::unique_ptr<git_tree_entry, GitDeleter<git_tree_entry, git_tree_entry_free>>;

Expected<RepoPtr> OpenRepo(const std::string& path) {
    InitLibgit2();
    git_repository* raw = nullptr;
    if (git_repository_open_ext(&raw, path.c_str(), 0, nullptr) != 0) {
        return Fail(Errc::kNotFound, "no-repo",
                    "cannot open git repository " + path + ": " + LastGitError());
    }
    return RepoPtr(raw);
}

// The object refs/tags/<tag> points to (a tag object for annotated tags, else a commit).
Expected<ObjPtr> TagTarget(git_repository* repo, const std::string& tag) {
    if (tag.empty()) return Fail(Errc::kInvalid, "bad-tag", "empty tag name");
    const std::string refname = "refs/tags/" + tag;
    int valid = 0;
    if (git_reference_name_is_valid(&valid, refname.c_str()) != 0 || valid == 0) {
        return Fail(Errc::kInvalid, "bad-tag", "'" + tag + "' is not a valid tag name");
    }
    git_reference* ref_raw = nullptr;
    if (git_reference_lookup(&ref_raw, repo, refname.c_str()) != 0) {
        return Fail(Errc::kNotFound, "no-tag", "tag '" + tag + "' not found: " + LastGitError());
    }
    RefPtr ref(ref_raw);
    git_reference* resolved_raw = nullptr;
    if (git_reference_resolve(&resolved_raw, ref.get()) != 0) {
        return Fail(Errc::kInvalid, "bad-tag",
                    "cannot resolve tag '" + tag + "': " + LastGitError());
    }
    RefPtr resolved(resolved_raw);
    git_object* obj = nullptr;
    if (git_object_lookup(&obj, repo, git_reference_target(resolved.get()), GIT_OBJECT_ANY) != 0) {
        return Fail(Errc::kInvalid, "bad-tag", "cannot read tag '" + tag + "': " + LastGitError());
    }
    return ObjPtr(obj);
}

Expected<ObjPtr> PeelToCommit(git_object* target, const std::string& tag) {
    git_object* commit = nullptr;
    if (git_object_peel(&commit, target, GIT_OBJECT_COMMIT) != 0) {
        return Fail(Errc::kInvalid, "bad-tag",
                    "tag '" + tag + "' does not point to a commit: " + LastGitError());
    }
    return ObjPtr(commit);
}

std::string OidHex(const git_oid* oid) {
    char buf[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(buf, sizeof buf, oid);
    return buf;
}

std::string TrimRight(std::string s) {
    while (!s.empty() &&
           (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
        s.pop_back();
    }
    return s;
}

std::string RepoName(git_repository* repo, const std::string& fallback) {
    git_remote* raw = nullptr;
    if (git_remote_lookup(&raw, repo, "origin") == 0) {
        RemotePtr remote(raw);
        const char* url = git_remote_url(remote.get());
        if (url != nullptr && *url != '\0') return url;
    }
    git_error_clear();  // "no origin" is normal, not an error to surface later
    const char* dir = git_repository_workdir(repo);  // null for a bare repository
    if (dir == nullptr) dir = git_repository_path(repo);
    if (dir == nullptr) return fallback;
    std::string path = dir;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

}  // namespace

Expected<TagInfo> ReadTag(const std::string& repo_path, const std::string& tag) {
    FW_ASSIGN(auto repo, OpenRepo(repo_path));
    FW_ASSIGN(auto target, TagTarget(repo.get(), tag));
    FW_ASSIGN(auto commit, PeelToCommit(target.get(), tag));
    TagInfo info;
    info.tag = tag;
    info.commit = OidHex(git_object_id(commit.get()));
    info.repo = RepoName(repo.get(), repo_path);
    if (git_object_type(target.get()) == GIT_OBJECT_TAG) {
        // git_object is the base of git_tag in libgit2's C object model.
        const auto* tag_obj = reinterpret_cast<const git_tag*>(target.get());
        info.annotated = true;
        if (const git_signature* sig = git_tag_tagger(tag_obj); sig != nullptr) {
            info.tagger = std::string(sig->name ? sig->name : "") + " <" +
                          (sig->email ? sig->email : "") + ">";
            info.tag_time = sig->when.time;
        }
        const char* msg = git_tag_message(tag_obj);
        info.notes = TrimRight(msg != nullptr ? msg : "");
    } else {
        const auto* c = reinterpret_cast<const git_commit*>(commit.get());
        info.tag_time = git_commit_time(c);
    }
    return info;
}

Expected<std::string> ReadTreeFile(const std::string& repo_path, const std::string& tag,
                                   const std::string& path, std::uint64_t max_size) {
    if (path.empty() || path.front() == '/') {
        return Fail(Errc::kInvalid, "bad-path", "tree path must be relative: '" + path + "'");
    }
    FW_ASSIGN(auto repo, OpenRepo(repo_path));
    FW_ASSIGN(auto target, TagTarget(repo.get(), tag));
    FW_ASSIGN(auto commit, PeelToCommit(target.get(), tag));
    git_tree* tree_raw = nullptr;
    if (git_commit_tree(&tree_raw, reinterpret_cast<const git_commit*>(commit.get())) != 0) {
        return Fail(Errc::kInvalid, "bad-tree", "cannot read the tree of " + tag);
    }
    TreePtr tree(tree_raw);
    git_tree_entry* entry_raw = nullptr;
    if (git_tree_entry_bypath(&entry_raw, tree.get(), path.c_str()) != 0) {
        return Fail(Errc::kNotFound, "no-file", "'" + path + "' is not in the tree of " + tag);
    }
    EntryPtr entry(entry_raw);
    if (git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB) {
        return Fail(Errc::kInvalid, "not-a-file", "'" + path + "' in " + tag + " is not a file");
    }
    git_object* blob_raw = nullptr;
    if (git_tree_entry_to_object(&blob_raw, repo.get(), entry.get()) != 0) {
        return Fail(Errc::kIo, "bad-blob", "cannot read '" + path + "': " + LastGitError());
    }
    ObjPtr blob(blob_raw);
    const auto* b = reinterpret_cast<const git_blob*>(blob.get());
    const auto size = static_cast<std::uint64_t>(git_blob_rawsize(b));
    if (max_size != 0 && size > max_size) {
        return Fail(Errc::kTooLarge, "image-too-large",
                    "'" + path + "' in " + tag + " is " + std::to_string(size) +
                        " bytes, above the limit of " + std::to_string(max_size));
    }
    const auto* data = static_cast<const char*>(git_blob_rawcontent(b));
    return std::string(data, static_cast<std::size_t>(git_blob_rawsize(b)));
}

Expected<std::vector<std::string>> ListTags(const std::string& repo_path,
                                            const std::string& pattern) {
    FW_ASSIGN(auto repo, OpenRepo(repo_path));
    git_strarray names{};
    if (git_tag_list_match(&names, pattern.c_str(), repo.get()) != 0) {
        return Fail(Errc::kIo, "git", "cannot list tags: " + LastGitError());
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < names.count; ++i) out.emplace_back(names.strings[i]);
    git_strarray_dispose(&names);
    return out;
}

Status CheckWorkTreeClean(const std::string& repo_path, const std::string& file) {
    FW_ASSIGN(auto repo, OpenRepo(repo_path));
    const char* workdir = git_repository_workdir(repo.get());
    if (workdir == nullptr) return {};  // bare repository: nothing is built from a work tree
    std::error_code ec;
    const auto root = std::filesystem::weakly_canonical(workdir, ec);
    const auto image = std::filesystem::weakly_canonical(file, ec);
    if (ec) return {};
    const auto rel = image.lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..") return {};  // the image is not in the work tree

    git_status_options opts = GIT_STATUS_OPTIONS_INIT;
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;  // untracked/ignored build outputs are fine
    git_status_list* raw = nullptr;
    if (git_status_list_new(&raw, repo.get(), &opts) != 0) {
        return Fail(Errc::kIo, "git", "cannot read the work tree status: " + LastGitError());
    }
    std::unique_ptr<git_status_list, GitDeleter<git_status_list, git_status_list_free>> list(raw);
    std::vector<std::string> dirty;
    const std::size_t n = git_status_list_entrycount(list.get());
    for (std::size_t i = 0; i < n; ++i) {
        const git_status_entry* e = git_status_byindex(list.get(), i);
        if (e == nullptr || e->status == GIT_STATUS_CURRENT) continue;
        if ((e->status & (GIT_STATUS_WT_NEW | GIT_STATUS_IGNORED)) != 0 &&
            (e->status & ~(GIT_STATUS_WT_NEW | GIT_STATUS_IGNORED)) == 0) {
            continue;
        }
        const git_diff_delta* d = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
        dirty.emplace_back(d != nullptr && d->new_file.path != nullptr ? d->new_file.path : "?");
    }
    if (dirty.empty()) return {};
    std::string names;
    for (std::size_t i = 0; i < dirty.size() && i < 5; ++i) names += (i ? ", " : "") + dirty[i];
    if (dirty.size() > 5) names += ", ...";
    return Fail(Errc::kConflict, "dirty-repo",
                "the image comes from the work tree of " + std::string(workdir) +
                    ", which has uncommitted changes (" + names +
                    "); commit them, build from a clean checkout, or pass --allow-dirty");
}

}  // namespace fwchain::vendor
