// rappel-platform: what a scheduling platform does with rappel. It sets up
// a clinic (tenant), a practitioner's calendar, an appointment type and a
// patient, books an appointment, then moves it — and rappel plans the
// confirmation, the change notice and the reminders, which a worker
// (rappel-worker) receives as rendered messages.
//
// Exit codes: 0 done, 1 rappeld refused or unreachable, 2 bad usage (a
// --start-in outside 1 s to 365 days).
//
// With --demo (the default), the clinic's reminders are seconds before the
// appointment instead of hours, so the whole plan plays out in ~15 s.
#include <chrono>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "client/cli_tls.h"
#include "rappel/client.h"
#include "server/common/program.h"

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kMaxStartInS = int64_t{365} * 24 * 3600;

int Fail(const char* what, const absl::Status& st) {
  std::fprintf(stderr, "rappel-platform: %s: %s\n", what, std::string(st.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rappel::client;
  Options options;
  options.client_name = "rappel-platform";
  uint32_t tenant = 1;
  std::string appointment_id = "demo-" + std::to_string(NowMs());
  // 64-bit: a year in milliseconds does not fit in an int.
  int64_t start_in_s = 12;
  bool demo = true;
  CLI::App app{"rappel-platform: book and move an appointment, as a scheduling platform would"};
  rappel::AddVersionFlag(app, "rappel-platform");
  app.add_option("--host", options.host)->capture_default_str();
  app.add_option("--port", options.port)->capture_default_str();
  app.add_option("--token", options.token, "producer token, if rappeld requires one");
  rappel::client::AddTlsFlags(app, options.tls);
  app.add_option("--tenant", tenant)->capture_default_str();
  app.add_option("--id", appointment_id, "appointment id")->capture_default_str();
  app.add_option("--start-in", start_in_s,
                 "the appointment starts in this many seconds, 1 to 31536000 (365 days)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxStartInS));
  app.add_flag("--demo,!--no-demo", demo,
               "reminders 8 s and 4 s before the start (else the tenant's: 48 h and 24 h)")
      ->capture_default_str();
  if (auto rc = rappel::ParseCommandLine(app, argc, argv)) return *rc;

  auto client = BlockingClient::Connect(options);
  if (!client.ok()) return Fail("connect", client.status());
  BlockingClient& c = **client;

  // The configuration objects: JSON documents (protocol/README.md).
  std::string tenant_doc = R"({
    "name": "Cabinet du Parc", "phone": "+33 1 23 45 67 89", "time_zone": "Europe/Paris",
    "locale": "fr", "action_url": "https://rdv.example/action",
    "rebook_url": "https://rdv.example/reprendre",
    "message_fr": "Merci d'arriver 10 minutes en avance.",
    "reminder_offsets": )" +
                           std::string(demo ? R"(["8s", "4s"], "min_lead": "0s")"
                                            : R"(["48h", "24h"])") +
                           "}";
  struct Object {
    ObjectKind kind;
    std::string id;
    std::string json;
  };
  for (const Object& o : {Object{ObjectKind::kTenant, "", tenant_doc},
                          Object{ObjectKind::kCalendar, "dr-martin",
                                 R"({"name": "Dr Claire Martin", "email": "c.martin@example.org"})"},
                          Object{ObjectKind::kAppointmentType, "consult",
                                 R"({"name": "Consultation", "mode": "on_site",
                                     "prerequisites": "Apportez votre carte Vitale."})"},
                          Object{ObjectKind::kPatient, "p-1001",
                                 R"({"first_name": "Jeanne", "last_name": "Roux",
                                     "mobile": "+33612345678", "email": "jeanne.roux@example.org"})"}}) {
    auto r = c.PutObject(o.kind, tenant, o.id, o.json);
    if (!r.ok()) return Fail("put object", r.status());
  }
  std::printf("platform: tenant %u, calendar dr-martin, type consult, patient p-1001 set up\n",
              tenant);

  AppointmentInput a;
  a.tenant = tenant;
  a.id = appointment_id;
  a.calendar = "dr-martin";
  a.type = "consult";
  a.patient = "p-1001";
  a.start_ms = NowMs() + start_in_s * int64_t{1000};
  a.end_ms = a.start_ms + 20 * 60 * 1000;
  a.location = "12 rue du Parc, Paris";
  a.booked_online = true;
  a.version = 1;
  auto booked = c.UpsertAppointment(a);
  if (!booked.ok()) return Fail("book", booked.status());
  std::printf("platform: booked %s (revision %u, %u messages planned)\n", a.id.c_str(),
              booked->revision, booked->planned);

  // The patient asks for a slot two seconds later: move it.
  a.start_ms += 2000;
  a.end_ms += 2000;
  a.version = 2;
  auto moved = c.UpsertAppointment(a);
  if (!moved.ok()) return Fail("move", moved.status());
  std::printf("platform: moved %s by 2 s (%s, revision %u, %u messages planned)\n", a.id.c_str(),
              std::string(UpsertOutcomeName(moved->outcome)).c_str(), moved->revision,
              moved->planned);
  return 0;
}
