#include "tools/rappelctl/credits.h"

#include <cstdint>

#include "CLI/CLI.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

class CreditCommands final : public CommandGroup {
 public:
  explicit CreditCommands(CLI::App& app) {
    auto* credits = app.add_subcommand(
        "credits",
        "a tenant's credits: balance, reservations, what waits for credit or for "
        "sending hours, forecast cost of the pending plan (tables; --json: the document)");
    credits->require_subcommand(1);
    show_ = credits->add_subcommand("show", "the ledger, what waits, the forecast");
    show_->add_option("tenant", tenant_, "tenant id")->required();
    add_ = credits->add_subcommand(
        "add", "add credits to the balance (messages waiting for credit are released)");
    add_->add_option("tenant", tenant_, "tenant id")->required();
    add_->add_option("amount", amount_, "credits to add")
        ->required()
        ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000'000}));
  }

  bool Chosen() const override { return show_->parsed() || add_->parsed(); }

  int Run(client::BlockingClient& c, bool json) override {
    // An amount of 0 asks for the view alone.
    auto r = c.Credits(tenant_, add_->parsed() ? amount_ : 0);
    if (!r.ok()) return Fail(r.status());
    if (json) {
      PrintJson(*r);
    } else {
      PrintDocumentTables(*r);
    }
    return 0;
  }

 private:
  CLI::App* show_ = nullptr;
  CLI::App* add_ = nullptr;
  uint32_t tenant_ = 0;
  int64_t amount_ = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> AddCreditCommands(CLI::App& app) {
  return std::make_unique<CreditCommands>(app);
}

}  // namespace rappel::ctl
