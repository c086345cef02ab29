#pragma once
#include <string>

namespace fwchain::test {

// A fresh directory under $TMPDIR, removed on destruction unless FWCHAIN_KEEP_TMP is set.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

  private:
    std::string path_;
};

}  // namespace fwchain::test
