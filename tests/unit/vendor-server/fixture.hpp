#pragma once
// Shared setup for the vendor-server tests: a fresh vendor data dir and a real Git repository
// built with the git CLI (annotated and lightweight tags, files in the tree).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/core/fs.hpp"
#include "tests/support/temp_dir.hpp"
#include "vendor-server/init.hpp"
#include "vendor-server/publish.hpp"

namespace fwchain::vendor::test {

inline std::string ShellQuote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

inline void WriteText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << path;
}

inline std::string ReadText(const std::string& path) {
    auto r = ReadFile(path);
    return r ? *r : std::string();
}

// A Git repository driven through the git CLI, isolated from the user's configuration.
class GitRepo {
  public:
    explicit GitRepo(std::string path) : path_(std::move(path)) {
        EXPECT_EQ(0, std::system(("mkdir -p " + ShellQuote(path_)).c_str()));
        Git("init -q -b main");
    }
    const std::string& path() const { return path_; }

    void Git(const std::string& args) const {
        const std::string cmd = "GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git -C " +
                                ShellQuote(path_) +
                                " -c user.name='Release Bot' -c user.email=ci@example.com"
                                " -c tag.gpgsign=false -c commit.gpgsign=false " +
                                args + " >/dev/null 2>&1";
        ASSERT_EQ(0, std::system(cmd.c_str())) << cmd;
    }
    void Commit(const std::string& file, const std::string& content) const {
        WriteText(path_ + "/" + file, content);
        Git("add " + ShellQuote(file));
        Git("commit -q -m " + ShellQuote("change " + file));
    }
    void AnnotatedTag(const std::string& tag, const std::string& message) const {
        Git("tag -a " + ShellQuote(tag) + " -m " + ShellQuote(message));
    }
    void LightweightTag(const std::string& tag) const { Git("tag " + ShellQuote(tag)); }
    std::string Head() const {
        const std::string cmd = "git -C " + ShellQuote(path_) + " rev-parse HEAD";
        FILE* p = ::popen(cmd.c_str(), "r");
        std::string out;
        char buf[128];
        while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
        if (p != nullptr) ::pclose(p);
        while (!out.empty() && out.back() == '\n') out.pop_back();
        return out;
    }

  private:
    std::string path_;
};

// A vendor data dir "acme" plus a repo with:
//   v1.0.0 annotated ("First release") -> fw.bin "firmware one"
//   v1.1.0 annotated ("Second release\n\nFixes.") -> fw.bin "firmware two, longer"
//   v1.2.0 lightweight, v0.9.0 annotated on the last commit
class VendorFixture : public ::testing::Test {
  protected:
    // Regular files anywhere below `path` (0 when it does not exist).
    static std::size_t CountFilesUnder(const std::string& path) {
        std::error_code ec;
        std::size_t n = 0;
        for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_regular_file()) ++n;
        }
        return n;
    }

    void SetUp() override {
        InitOptions init;
        init.data_dir = data();
        init.vendor = "acme";
        init.bits = 4;  // genesis mining must be instant in unit tests
        auto r = Init(init);
        ASSERT_TRUE(r) << r.error().ToString();
        init_ = *r;

        repo_ = std::make_unique<GitRepo>(tmp_ / "repo");
        repo_->Commit("fw.bin", "firmware one");
        commit1_ = repo_->Head();
        repo_->AnnotatedTag("v1.0.0", "First release");
        repo_->Commit("fw.bin", "firmware two, longer");
        commit2_ = repo_->Head();
        repo_->AnnotatedTag("v1.1.0", "Second release\n\nFixes.");
        repo_->Commit("fw.bin", "firmware three");
        repo_->LightweightTag("v1.2.0");
        repo_->AnnotatedTag("v0.9.0", "Old numbering");
    }

    std::string data() const { return tmp_ / "vendor"; }

    PublishOptions PublishOpts(const std::string& tag) const {
        PublishOptions p;
        p.data_dir = data();
        p.repo = repo_->path();
        p.tag = tag;
        p.image = "tree:fw.bin";
        p.product = "cam";
        p.hardware = {"rev-a", "rev-b"};
        return p;
    }

    fwchain::test::TempDir tmp_;
    InitResult init_;
    std::unique_ptr<GitRepo> repo_;
    std::string commit1_, commit2_;
};

}  // namespace fwchain::vendor::test
