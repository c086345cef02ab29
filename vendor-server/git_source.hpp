#pragma once
// Reading a release's source from Git (libgit2 stays inside git_source.cpp): the tag, the
// commit it names, who tagged it and why, and optionally a file inside the tagged tree.
#include <optional>
#include <string>

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

// Contents of the blob at `path` in the tree of the commit `tag` points to.
Expected<std::string> ReadTreeFile(const std::string& repo_path, const std::string& tag,
                                   const std::string& path);

}  // namespace fwchain::vendor
