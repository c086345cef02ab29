#pragma once
// Reading a release's source from Git (libgit2 stays inside git_source.cpp): the tag, the
// commit it names, who tagged it and why, and optionally a file inside the tagged tree.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/expected.hpp"

namespace fwchain::vendor {

struct TagInfo {
    std::string tag;
    std::string commit;  // hex object id of the peeled commit
    bool annotated = false;
    std::string tagger;  // "Name <email>" of an annotated tag, "" for a lightweight one
    std::string notes;   // annotated tag message (trailing whitespace trimmed)
    std::string repo;    // remote "origin" URL if any, else the repository's path
    std::int64_t tag_time = 0;
};

// Opens the repository at (or above) `repo_path` and reads refs/tags/`tag`.
Expected<TagInfo> ReadTag(const std::string& repo_path, const std::string& tag);

// Contents of the blob at `path` in the tree of the commit `tag` points to; a blob larger than
// max_size (0 = no limit) is refused with "image-too-large" before it is read.
Expected<std::string> ReadTreeFile(const std::string& repo_path, const std::string& tag,
                                   const std::string& path, std::uint64_t max_size = 0);

// Tag names matching a glob (fnmatch, e.g. "v*"), in libgit2's order.
Expected<std::vector<std::string>> ListTags(const std::string& repo_path,
                                            const std::string& pattern);

// When `file` lies inside the repository's work tree, refuses ("dirty-repo") if tracked files
// have uncommitted changes: an image built from such a tree is not what the tag names.
// Untracked and ignored files (build outputs) do not count. A file outside the work tree or a
// bare repository passes.
Status CheckWorkTreeClean(const std::string& repo_path, const std::string& file);

}  // namespace fwchain::vendor
