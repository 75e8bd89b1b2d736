#include "cli.hpp"

#include <algorithm>
#include <optional>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "core/error.hpp"

namespace dn::app {

// Optimal string alignment distance: Levenshtein plus swapping two neighbours
// ("trian" is one step from "train").
static std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

static std::string strip_dashes(const std::string& s) { return s.substr(s.find_first_not_of('-') == std::string::npos ? s.size() : s.find_first_not_of('-')); }

std::vector<std::string> closest_names(const std::string& typed, const std::vector<std::string>& candidates) {
  const std::string t = strip_dashes(typed);
  if (t.empty()) return {};
  // Close enough: a third of the longer word's letters (at least 1, at most 3),
  // or a start of the name at least 3 letters long.
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const std::string& c : candidates) {
    const std::string name = strip_dashes(c);
    const std::size_t limit = std::clamp<std::size_t>(std::max(t.size(), name.size()) / 3, 1, 3);
    const std::size_t d = edit_distance(t, name);
    if (d <= limit) scored.emplace_back(d, c);
    else if (t.size() >= 3 && name.rfind(t, 0) == 0) scored.emplace_back(limit + 1, c);
  }
  std::stable_sort(scored.begin(), scored.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [d, c] : scored)
    if (out.size() < 3) out.push_back(c);
  return out;
}

std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* p = app.get_parent(); p; p = p->get_parent()) path = (p->get_parent() ? p->get_name() : "denoise") + " " + path;
  return app.get_parent() ? path : "denoise";
}

static std::vector<CLI::App*> subcommands_of(CLI::App& app) {
  return app.get_subcommands([](CLI::App*) { return true; });
}

static CLI::App* find_subcommand(CLI::App& app, const std::string& name) {
  for (CLI::App* sub : subcommands_of(app))
    if (sub->get_name() == name) return sub;
  return nullptr;
}

static std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (CLI::App* sub : subcommands_of(app))
    if (!sub->get_group().empty()) names.push_back(sub->get_name());  // hidden ones have no group
  return names;
}

static std::vector<std::string> flag_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* a = &app; a; a = a->get_parent())
    for (const CLI::Option* opt : a->get_options()) {
      for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
      for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
    }
  return names;
}

static const CLI::Option* find_flag(CLI::App& app, const std::string& name) {
  for (CLI::App* a = &app; a; a = a->get_parent())
    if (const CLI::Option* opt = a->get_option_no_throw(name); opt && !opt->get_positional()) return opt;
  return nullptr;
}

static std::string suggestion(const std::vector<std::string>& close) {
  if (close.empty()) return "";
  std::vector<std::string> quoted;
  for (auto& c : close) quoted.push_back("'" + c + "'");
  return fmt::format("; did you mean {}?", fmt::join(quoted, " or "));
}

static bool looks_like_number(const std::string& s) {
  return s.size() > 1 && s[0] == '-' && (std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.');
}

// Walks the command line as CLI11 does, far enough to name the first word that
// is neither a subcommand nor a flag of the command it follows.
static std::optional<std::string> find_typo(CLI::App& app, const std::vector<std::string>& args, CLI::App*& at) {
  at = &app;
  bool chose_leaf = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() > 1 && a[0] == '-' && !looks_like_number(a)) {
      const std::string name = a.substr(0, a.find('='));
      const CLI::Option* opt = find_flag(*at, name);
      if (!opt)
        return fmt::format("{} has no flag {}{}", command_path(*at), name, suggestion(closest_names(name, flag_names(*at))));
      if (a.find('=') != std::string::npos || opt->get_items_expected_max() == 0) continue;
      if (opt->get_items_expected_max() == 1) {
        ++i;
        continue;
      }
      while (i + 1 < args.size() && (args[i + 1].empty() || args[i + 1][0] != '-' || looks_like_number(args[i + 1]))) ++i;
      continue;
    }
    if (CLI::App* sub = chose_leaf ? nullptr : find_subcommand(*at, a)) {
      at = sub;
      continue;
    }
    const std::vector<std::string> subs = subcommand_names(*at);
    if (!subs.empty() && !chose_leaf && at->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty())
      return fmt::format("'{}' is not a {} command{}", a, command_path(*at), suggestion(closest_names(a, subs)));
    chose_leaf = true;  // a positional argument: no subcommand can follow
  }
  return std::nullopt;
}

std::string explain_parse_error(CLI::App& app, const std::vector<std::string>& args, const CLI::ParseError& error) {
  CLI::App* at = nullptr;
  std::string message;
  if (auto typo = find_typo(app, args, at)) {
    message = *typo;
  } else if (dynamic_cast<const CLI::RequiredError*>(&error) && !subcommand_names(*at).empty() &&
             at->get_subcommands().empty() && std::string(error.what()).find("subcommand") != std::string::npos) {
    message = fmt::format("{} needs a command: {}", command_path(*at), fmt::join(subcommand_names(*at), ", "));
  } else {
    message = error.what();
    if (!message.empty() && std::isupper(static_cast<unsigned char>(message[0])) &&
        !(message.size() > 1 && std::isupper(static_cast<unsigned char>(message[1]))))
      message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  }
  const std::string path = command_path(*at);
  return fmt::format("{}\nRun '{}' for {}.", message, at == &app ? "denoise help" : "denoise help " + path.substr(8),
                     subcommand_names(*at).empty() ? "its flags" : "the commands");
}

std::string help_text(CLI::App& app, const std::vector<std::string>& words) {
  CLI::App* at = &app;
  for (const std::string& word : words) {
    CLI::App* next = find_subcommand(*at, word);
    if (!next || next->get_group().empty())
      throw UsageError(fmt::format("'{}' is not a {} command{}", word, command_path(*at),
                                   suggestion(closest_names(word, subcommand_names(*at)))));
    at = next;
  }
  // CLI::App::help() would describe a chosen subcommand instead; nothing is chosen here.
  std::string text = at->get_formatter()->make_help(at, command_path(*at), CLI::AppFormatMode::Normal);
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

// One case per command: its subcommands, or its flags; flag values complete as files.
std::string bash_completion(CLI::App& app) {
  std::vector<CLI::App*> all;
  std::vector<CLI::App*> todo = {&app};
  while (!todo.empty()) {
    CLI::App* a = todo.back();
    todo.pop_back();
    all.push_back(a);
    for (CLI::App* sub : subcommands_of(*a))
      if (!sub->get_group().empty()) todo.push_back(sub);
  }
  std::string paths, cases;
  for (CLI::App* a : all) {
    std::vector<std::string> words = subcommand_names(*a);
    for (const CLI::Option* opt : a->get_options())
      for (const std::string& l : opt->get_lnames()) words.push_back("--" + l);
    if (a != &app) paths += fmt::format("      \"{}\") path=\"$path ${{COMP_WORDS[i]}}\" ;;\n", command_path(*a));
    cases += fmt::format("    \"{}\") words=\"{}\" ;;\n", command_path(*a), fmt::join(words, " "));
  }
  return fmt::format(R"(# bash completion for denoise, written by `denoise completion bash`.
_denoise() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} path=denoise words i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "$path ${{COMP_WORDS[i]}}" in
{}    esac
  done
  case "$path" in
{}  esac
  if [[ $cur == -* || ${{COMP_WORDS[COMP_CWORD-1]}} != -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
}}
complete -o default -F _denoise denoise
)",
                     paths, cases);
}

}  // namespace dn::app
