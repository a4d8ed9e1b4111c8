"""The signatures: one :class:`Rule` per pattern, matched by a linear-time engine.

Every pattern is RE2 syntax (no backreferences, no lookaround) and matches the *normalized*
value (:func:`bulletproof.detect._normalize.normalize`: decoded, lower case, SQL comments and
whitespace runs as one space). A rule's ``score`` is its weight: 5 is enough on its own to call a
request malicious (the default threshold), lower scores need company in the same field.
``where`` says which fields the rule judges: ``v`` a value (query or form parameter, JSON
string, cookie, header), ``p`` the URL path, ``u`` the User-Agent, ``n`` a parameter or JSON key
name, ``x`` an XML body.

Rule ids are stable: ``942`` SQL injection, ``941`` XSS, ``932`` command injection, ``930`` path
traversal and file inclusion, ``913`` scanners, ``934`` SSRF, ``935`` NoSQL, ``936`` LDAP,
``937`` XXE, ``938`` template injection (the families follow the OWASP CRS numbering, so a CRS
user finds their way; the rules themselves are bulletproof's own).

>>> len(RULES) > 60 and all(r.id.startswith("bp-") for r in RULES)
True

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["RULES", "Rule"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One signature. Added in 0.1."""

    id: str
    type: str
    score: int
    pattern: str
    where: str = "v"
    name: str = ""


# -- building blocks ------------------------------------------------------------------------

_Q = r"""['"`\x{b4}\x{2019}\x{2032}]"""
_CMP = (
    r"(?:=|<>|!=|<=?|>=?|\blike\b|\brlike\b|\bregexp\b|\bis\b|\bin ?\(|\bbetween\b|\bsounds like\b)"
)
_SQL_FUNCS = r"sleep|pg_sleep|benchmark|randomblob|dbms_pipe\.receive_message|dbms_lock\.sleep"
_SQL_OBJECTS = (
    r"information_schema|sysobjects|syscolumns|sysusers|sysibm\.\w+|all_users|all_tables|"
    r"user_tables|msysaccessobjects|msysobjects|pg_catalog|pg_user|pg_shadow|sqlite_master|"
    r"mysql\.user|xp_cmdshell|sp_executesql|sp_oacreate|utl_inaddr|utl_http|rdb\$\w+|"
    r"@@version|@@datadir|@@hostname|@@servername|sys\.user\$|dual\b"
)
_SQL_FN = (
    r"make_set|extractvalue|updatexml|load_file|group_concat|concat_ws|regexp_substring|"
    r"elt|char|chr|nchar|ascii|ord|hex|unhex|substr|substring|mid|md5|sha1|concat|version|"
    r"user|database|schema|current_user|system_user|session_user|iif|if|ifnull|isnull|"
    r"nullif|coalesce|cast|convert|count|len|length|lower|upper|rand|floor|exp|json_keys|"
    r"instr|locate|position|strcmp|utl_inaddr\.get_host_address|ctxsys\.drithsx\.sn"
)
# Shell commands that are not English words: a separator before one is enough.
_CMD = (
    r"id|ls|whoami|uname|ifconfig|ipconfig|netstat|ping|ping6|wget|curl|nc|ncat|netcat|"
    r"telnet|bash|sh|zsh|ksh|csh|tcsh|dash|cmd|powershell|pwsh|python[23]?|perl|ruby|php|"
    r"nslookup|systeminfo|sysinfo|tasklist|taskkill|hostname|uptime|chmod|chown|useradd|"
    r"passwd|crontab|nohup|xterm|certutil|bitsadmin|mshta|rundll32|regsvr32|wmic|schtasks|"
    r"printenv|xxd|tftp|nmap|lsof|ps|pwd|mkfifo|telnetd|busybox|gcc|cc|base64|sudo|su|"
    r"rm|cp|mv|wc|net|reg|netsh|dir|sleep|timeout|getent|groups|w|who|last|arp|route|"
    r"traceroute|tracert|dig|whois|ssh|scp|ftp|php-cgi|node|lua|tclsh|awk|gawk|sed|printf|"
    r"xargs|sh -c|bash -c"
)
# Shell commands that are also English words: they need an argument that looks like one.
_CMD_WORD = r"cat|more|less|head|tail|type|echo|find|grep|set|start|kill|env|host|time|print|tee|touch|file|sort|cut|strings|od|which|locate"
_ARG = r"(?:-{1,2}[a-z]|/|\\|[a-z]:[/\\]|%[a-z]+%|\$[a-z{(]|~/|\.{1,2}/|['\"])"
_SEP = r"(?:[;|&\x60\n]|\$\(|\|\||&&)"
# what may come before the separator of an injected command: the value's own start (a token,
# quotes, a closing parenthesis), not a sentence ("I ran cat x | wc -l" is prose)
_LEAD = r"(?:^[\w.@:/'\"()*,+=-]*\s*|[;|&]\s*)"
_CMD_ALONE = r"whoami|ifconfig|ipconfig|netstat|systeminfo|sysinfo|uname|tasklist|ipconfig /all"

_RULES: Final[list[tuple[str, str, int, str, str, str]]] = [
    # id, type, score, where, name, pattern
    # -- SQL injection ------------------------------------------------------------------------
    ("bp-942100", "sqli", 5, "vn", "UNION SELECT", r"\bunion(?: (?:all|distinct))? ?\(? ?select"),
    (
        "bp-942110",
        "sqli",
        5,
        "vn",
        "time or heavy query function",
        rf"\b(?:{_SQL_FUNCS}) ?\(|\bwaitfor (?:delay|time) ?{_Q}",
    ),
    (
        "bp-942120",
        "sqli",
        5,
        "vn",
        "database catalog or system object",
        rf"(?:^|[^a-z0-9_])(?:{_SQL_OBJECTS})",
    ),
    (
        "bp-942130",
        "sqli",
        5,
        "vn",
        "string break then a boolean condition",
        rf"{_Q} ?\)* ?(?:or|and|xor|&&|\|\|) ?\(* ?(?:{_Q}?[\w.$]+{_Q}? ?{_CMP}|\d+ ?(?:$|--|#|/\*|;|\))|{_Q}\s*$"
        r"|(?:true|false|null|not|exists|sleep|benchmark|select|pg_sleep|make_set|elt|if|case"
        rf"|substring|ascii|ord|char|chr|{_SQL_FUNCS})\b|{_Q} ?{_Q})",
    ),
    (
        "bp-942140",
        "sqli",
        5,
        "vn",
        "string break then a comment or a terminator",
        rf"^[\w@.$ -]*{_Q} ?\)* ?(?:--|#|/\*|;|\)) ?(?:$|[a-z(]|--)|{_Q} ?\)* ?(?:--|#)[ -]?$",
    ),
    (
        "bp-942150",
        "sqli",
        5,
        "vn",
        "numeric tautology",
        r"(?:\b(?:or|and|xor|where|having|when)|\|\||&&) ?\(* ?-?(?:0x[0-9a-f]+|\d+) ?\)* ?"
        r"(?:=|<>|!=|<=?|>=?|like) ?\(* ?-?(?:0x[0-9a-f]+|\d+)\b",
    ),
    (
        "bp-942160",
        "sqli",
        5,
        "vn",
        "string tautology",
        rf"\b(?:or|and|xor|where|having) ?\(* ?{_Q}[^'\"]*{_Q} ?\)* ?(?:=|<>|!=|like) ?\(* ?{_Q}",
    ),
    (
        "bp-942170",
        "sqli",
        4,
        "vn",
        "boolean condition on a column",
        rf"\b(?:or|and|xor|having|where) \(* ?[a-z_][\w.]* ?{_CMP} ?\(* ?(?:{_Q}|\d|[a-z_]+\(|[a-z_]\w*(?: ?(?:--|#|;|\))|$))",
    ),
    (
        "bp-942180",
        "sqli",
        4,
        "vn",
        "SQL function call",
        rf"(?:^|[\s(,=+|'\"*/-])(?:{_SQL_FN})\( ?(?:\d|{_Q}|0x|select\b|@|\(|[a-z_]+\(|null\b|\*)",
    ),
    (
        "bp-942190",
        "sqli",
        5,
        "vn",
        "stacked query",
        r";\s*(?:iif ?\(|if ?\(|select|insert|update|delete|drop|create|alter|exec|execute|declare|shutdown|"
        r"truncate|grant|revoke|waitfor|begin|call|copy|load|handler|rename)\b",
    ),
    (
        "bp-942200",
        "sqli",
        3,
        "vn",
        "ORDER BY or GROUP BY a column number",
        r"\b(?:order|group) by \d+\b",
    ),
    (
        "bp-942205",
        "sqli",
        5,
        "vn",
        "a value that is a column probe",
        r"^[\w'\"]* ?\)* ?(?:order|group) by \d+ ?(?:, ?[\w()' ]+)*(?:--|#|;|$)"
        rf"|^{_Q} ?(?:=|<|>|\|\||&&|\^|-|\+|\*) ?(?:\d|{_Q})|{_Q} ?\|\| ?{_Q}"
        r"|\( ?-?\d+ ?(?:=|<>|!=|<|>) ?-?\d+ ?\)"
        rf"|^{_Q} ?[&|^*+-] ?{_Q}$|^['\"\x60\\]{{1,2}}$|^\w*(?:'\"|\"')$"
        r"|^-?\d+ ?\)* ?(?:and|or|xor) -?\d+$|^\w+ (?:and|or|xor) (?:true|false)$",
    ),
    ("bp-942210", "sqli", 2, "vn", "trailing SQL comment", r"(?:--|#|/\*)[ +-]?$|\s--\s"),
    (
        "bp-942215",
        "sqli",
        4,
        "vn",
        "boolean constant condition",
        r"(?:^|\s)(?:and|or|xor) (?:true|false|not null|null)\s*(?:$|--|#)",
    ),
    (
        "bp-942220",
        "sqli",
        4,
        "vn",
        "SELECT list or subquery",
        r"\(\s*select\b|\bselect (?:\*|count ?\(|case\b|if ?\(|char ?\(|concat|null\b|\d+ ?,|@@|top \d|distinct\b)"
        r"|\bselect\b[\w\s,.*()@]+\bfrom [\w.$]+ ?(?:where|limit|order|group|union|\)|--|#|;|$)",
    ),
    (
        "bp-942230",
        "sqli",
        3,
        "vn",
        "data-changing statement",
        r"\b(?:insert into [\w.$]+ ?(?:\(|values|select)|delete from [\w.$]+ ?(?:where|;|--|#|$)"
        r"|drop (?:table|database|schema|view|user|procedure|function)\b|truncate table|"
        r"alter (?:table|user|database)|create (?:table|user|database|procedure|function)\b|"
        r"into (?:out|dump)file|exec(?:ute)? (?:master\.|xp_|sp_)|update [\w.$]+ set [\w.$]+ ?=)",
    ),
    ("bp-942240", "sqli", 4, "vn", "CASE WHEN ... THEN", r"\bcase when\b.+\bthen\b"),
    (
        "bp-942250",
        "sqli",
        3,
        "vn",
        "string concatenation of SQL values",
        rf"{_Q} ?(?:\|\||\+) ?(?:{_Q}|chr ?\(|char ?\(|select\b|\()|\|\| ?(?:chr|char)\(",
    ),
    (
        "bp-942260",
        "sqli",
        3,
        "vn",
        "a quote then SQL keywords",
        rf"{_Q} ?\)* ?(?:union|select|having|where|order by|group by|limit|procedure|into|rlike|regexp|like|in boolean mode|as [a-z]+ where)\b",
    ),
    (
        "bp-942270",
        "sqli",
        3,
        "vn",
        "a number then a SQL clause",
        r"^-?\d+ ?\)* ?(?:or|and|xor|having|where|union|order by|group by|limit|procedure)\b",
    ),
    ("bp-942280", "sqli", 2, "vn", "hex or char literal", r"\b0x[0-9a-f]{8,}\b|\bchar\(\d+\)"),
    (
        "bp-942290",
        "sqli",
        5,
        "vn",
        "MongoDB-style JavaScript condition",
        r"\bthis\.[a-z_]+\.match\(|\$where\b|\bsleep\(\d+\)\s*(?:\|\||&&)",
    ),
    # -- cross-site scripting -----------------------------------------------------------------
    ("bp-941100", "xss", 5, "vpn", "script tag", r"<\s*/?\s*script\b"),
    (
        "bp-941110",
        "xss",
        5,
        "vpn",
        "event handler in a tag",
        r"<[a-z!/?][^>]*?[^a-z0-9]on[a-z]{3,}\s*=",
    ),
    (
        "bp-941120",
        "xss",
        5,
        "vpn",
        "event handler after a quote",
        rf"{_Q}[\s/]*on[a-z]{{3,}}\s*=|^on[a-z]{{3,}}\s*=\s*\S",
    ),
    (
        "bp-941130",
        "xss",
        5,
        "vpn",
        "JavaScript URL",
        r"(?:^|[\s\"'`=(<:,;\[{])(?:j ?a ?v ?a ?s ?c ?r ?i ?p ?t|v ?b ?s ?c ?r ?i ?p ?t|livescript|mocha) ?:[^\s]",
    ),
    (
        "bp-941140",
        "xss",
        5,
        "vpn",
        "dangerous element",
        r"<\s*(?:frameset|svg|math|base|meta|isindex|xss|bgsound|"
        r"layer|ilayer|xml|import|portal|script|plaintext|xmp|noscript|listing|vmlframe|link|"
        r"style|head|html|title|form)\b"
        r"|<\s*[a-z]+\b[^>]*?\b(?:src|href|data|action|formaction|background|dynsrc|lowsrc|code|"
        r"values|to|from|by|srcdoc|style|xmlns|rel|http-equiv|content|poster|xlink:href)\s*=\s*"
        r"[\"'`]?\s*(?:&#|\\[ux0-9]|(?:javascript|vbscript|livescript|data)\s*:)",
    ),
    (
        "bp-941145",
        "xss",
        3,
        "vpn",
        "embedding element (video and map embeds use them too)",
        r"<\s*(?:iframe|frame|object|embed|applet)\b",
    ),
    (
        "bp-941150",
        "xss",
        4,
        "vpn",
        "script sink or dialog",
        r"\b(?:alert|prompt|confirm|eval|settimeout|setinterval|fromcharcode|execscript|"
        r"msgbox|constructor|unescape|atob|import)\s*(?:\(|`|\.call|\.apply)|"
        r"\bdocument\s*\.\s*(?:cookie|domain|write|location|body)|\bwindow\s*\.\s*(?:location|name|open)|"
        r"\.innerhtml\s*=|\blocation\s*(?:\.href)?\s*=|\btop\s*\[|\bself\s*\[",
    ),
    (
        "bp-941155",
        "xss",
        5,
        "vpn",
        "a dialog call with a literal (the classic proof of script execution)",
        r"(?:^|[-+*/;(\x60'\"={}\[\s|&])(?:alert|prompt|confirm|print)\s*(?:\(\s*(?:\d+|['\"\x60][^'\"\x60]*['\"\x60]"
        r"|document\.\w+|window\.\w+|\))|\x60)",
    ),
    (
        "bp-941160",
        "xss",
        5,
        "vpn",
        "data URL with active content",
        r"\bdata:\s*(?:text/html|text/xml|application/xhtml|image/svg|application/x-javascript|"
        r"text/javascript|application/javascript|text/x-scriptlet)",
    ),
    (
        "bp-941170",
        "xss",
        4,
        "vpn",
        "CSS expression or binding",
        r"\bexpr ?ession\s*\(|-moz-binding|behavior\s*:\s*url|@import\b|url\s*\(\s*['\"]?\s*(?:javascript|vbscript):",
    ),
    (
        "bp-941180",
        "xss",
        3,
        "vpn",
        "a quote closing an attribute, then a new tag",
        r"^[^<]*[\"'`]\s*/?>\s*<\s*[a-z/!]|^[^<]*-->\s*<\s*[a-z/]",
    ),
    (
        "bp-941190",
        "xss",
        4,
        "vpn",
        "tag closing an HTML context",
        r"<\s*/\s*(?:script|title|style|textarea|noscript|xmp|template)\s*>",
    ),
    (
        "bp-941200",
        "xss",
        3,
        "vpn",
        "unclosed dangerous tag opener",
        r"<\s*(?:img|image|body|svg|iframe|video|audio|input|details|marquee|object|embed|link)\b[^>]*$",
    ),
    (
        "bp-941220",
        "xss",
        2,
        "vpn",
        "event-like attribute in a tag",
        r"<[a-z]+[\s/][^>]*[\s/\"';]on[a-z]{3,}[!#$%&()*~+,:;?@\[\\\]^\x60|-][^>]*="
        r"|=\s*['\"]?&\{|<input[^>]*type\s*=\s*['\"]?password",
    ),
    (
        "bp-941230",
        "xss",
        5,
        "vpn",
        "a DOM event handler name as the whole value",
        r"^on(?:abort|afterprint|animation(?:end|iteration|start|cancel)|auxclick|before(?:copy|cut|"
        r"paste|print|unload|input|toggle|activate|deactivate|editfocus|scriptexecute)|begin|blur|"
        r"bounce|cancel|canplay(?:through)?|change|click|close|contextmenu|copy|cuechange|cut|"
        r"dblclick|drag(?:end|enter|leave|over|start|drop|exit)?|drop|durationchange|emptied|end|"
        r"ended|error|finish|focus(?:in|out)?|formdata|fullscreen(?:change|error)|hashchange|help|"
        r"input|invalid|key(?:down|press|up)|load(?:eddata|edmetadata|start|end)?|message|"
        r"mouse(?:down|enter|leave|move|out|over|up|wheel)|move(?:start|end)?|pagehide|pageshow|"
        r"paste|pause|play|playing|pointer(?:cancel|down|enter|leave|move|out|over|up|rawupdate)|"
        r"popstate|progress|propertychange|ratechange|readystatechange|redo|repeat|reset|resize|"
        r"resume|reverse|scroll(?:end)?|search|seek|seeked|seeking|select|selectionchange|"
        r"selectstart|show|stalled|start|storage|submit|suspend|timeupdate|toggle|touch(?:cancel|"
        r"end|move|start)|transition(?:cancel|end|run|start)|undo|unhandledrejection|unload|"
        r"volumechange|waiting|webkit[a-z]+|wheel|zoom|online|offline)$",
    ),
    (
        "bp-941210",
        "xss",
        2,
        "vpn",
        "JavaScript call with a string or number",
        r"\(\s*(?:['\"`][^'\"`]*['\"`]|\d+|/[^/]+/\.source|document\.\w+)\s*\)\s*(?:;|>|//|$)",
    ),
    # -- command injection --------------------------------------------------------------------
    (
        "bp-932100",
        "cmdi",
        5,
        "vn",
        "command after a shell separator",
        rf"{_LEAD}{_SEP}\s*(?:/(?:usr/)?(?:local/)?s?bin/)?(?:{_CMD})(?:\.exe)?(?:$|[\s;|&\x60<>)'\"])"
        rf"|^(?:{_CMD})(?:\.exe)?\s*[;|&\x60]|^(?:{_CMD_ALONE})$",
    ),
    (
        "bp-932110",
        "cmdi",
        5,
        "vn",
        "shell word command with arguments after a separator",
        rf"{_LEAD}{_SEP}\s*(?:{_CMD_WORD})(?:\.exe)? +{_ARG}",
    ),
    (
        "bp-932120",
        "cmdi",
        4,
        "vn",
        "command with options at the start of a value",
        rf"^(?:/(?:usr/)?(?:local/)?s?bin/)?(?:{_CMD}|{_CMD_WORD})(?:\.exe)? +{_ARG}",
    ),
    (
        "bp-932130",
        "cmdi",
        5,
        "vn",
        "path to a system binary",
        r"(?:^|[;|&\x60'\"(=<>$])/(?:usr/(?:local/)?)?s?bin/[a-z]",
    ),
    (
        "bp-932135",
        "cmdi",
        2,
        "vn",
        "path to a system binary in text",
        r"\s/(?:usr/(?:local/)?)?s?bin/[a-z]",
    ),
    (
        "bp-932145",
        "cmdi",
        3,
        "vn",
        "command in backticks (markdown code spans look the same)",
        rf"\x60\s*(?:{_CMD}|{_CMD_WORD})\b",
    ),
    (
        "bp-932140",
        "cmdi",
        5,
        "vn",
        "command substitution",
        rf"\$\(\s*(?:{_CMD}|{_CMD_WORD})\b|\$\{{ifs\}}|\$ifs\b|\$\{{[a-z_]+:-?\d*:?\d*\}}",
    ),
    (
        "bp-932147",
        "cmdi",
        5,
        "vn",
        "a path spelled with shell wildcards (/???/??t)",
        r"(?:^|[\s;|&\x60(])/[?*]+(?:[a-z]*[?*]+[a-z]*)*/[a-z?*]*[?*]",
    ),
    (
        "bp-932150",
        "cmdi",
        5,
        "vn",
        "shellshock function definition",
        r"\(\s*\)\s*\{[^}]*;\s*\}\s*;",
    ),
    (
        "bp-932160",
        "cmdi",
        5,
        "vn",
        "code execution function",
        r"\b(?:system|exec|passthru|shell_exec|popen|proc_open|pcntl_exec|os\.system|os\.popen|"
        r"subprocess\.\w+|__import__|runtime\.getruntime|processbuilder|child_process|require)\s*\(\s*['\"`$]",
    ),
    (
        "bp-932170",
        "cmdi",
        5,
        "vn",
        "server-side include",
        r"<!--\s*#\s*(?:exec|include|echo|config|printenv|fsize|flastmod)\b",
    ),
    (
        "bp-932180",
        "cmdi",
        5,
        "vn",
        "reverse shell or interpreter one-liner",
        r"/dev/(?:tcp|udp)/|\bbash -i\b|\bnc(?:at)? (?:-[a-z]+ )*-e\b|\bmkfifo\b|"
        r"\b(?:perl|python[23]?|php|ruby|node|lua) -[ercp]\b|\bsh -c\b|\bcmd(?:\.exe)? /[ck]\b|"
        r"\bpowershell(?:\.exe)? (?:-[a-z]+ )*-(?:e|enc|encodedcommand|c|command|nop)\b",
    ),
    (
        "bp-932190",
        "cmdi",
        5,
        "vn",
        "Windows administration command",
        r"\b(?:net (?:user|localgroup|group|share|view|use|start|stop)|reg(?:\.exe)? (?:add|query|delete|save)|"
        r"netsh (?:firewall|advfirewall|interface|wlan)|wmic (?:process|os|useraccount|shadowcopy)|"
        r"vssadmin|bcdedit|icacls|cacls|takeown)\b",
    ),
    ("bp-932200", "cmdi", 5, "vn", "PHP code", r"<\?(?:php|=)|\?>\s*$"),
    (
        "bp-932210",
        "cmdi",
        3,
        "vn",
        "shell separator then a redirect or pipe",
        r"[;|&]\s*\S+\s*(?:>|>>|2>&1|\|)\s*(?:/|&|\S+\.(?:php|sh|txt|jsp))",
    ),
    # -- path traversal and file inclusion ----------------------------------------------------
    ("bp-930100", "path_traversal", 5, "vpn", "dot-dot segment", r"(?:^|[/\\=:])\.{2,}(?:[/\\]|$)"),
    (
        "bp-930105",
        "path_traversal",
        4,
        "vpn",
        "dot-dot then a separator",
        r"\.\.[/\\;]|\.\.%[^0-9a-f]|\.\.\?|\.\.\x60",
    ),
    (
        "bp-930110",
        "path_traversal",
        5,
        "vpn",
        "system file",
        r"(?:^|[/\\\s=:])(?:etc[/\\](?:passwd|shadow|group|hosts|issue|motd|crontab|sudoers|fstab|"
        r"mtab|profile|bashrc|httpd|apache2?|nginx|mysql|ssh|resolv\.conf|hostname|environment|"
        r"inittab|security|master\.passwd|pwd\.db)|proc[/\\](?:self|version|cmdline|mounts|\d+)\b|"
        r"windows[/\\](?:win\.ini|system\.ini|repair)|boot\.ini|win\.ini|\.ssh[/\\](?:id_|authorized)|"
        r"\.aws[/\\]credentials|\.bash_history|\.htpasswd|web-inf[/\\]web\.xml|repair[/\\]sam|"
        r"%systemroot%|%windir%|\$home/\.)",
    ),
    (
        "bp-930112",
        "path_traversal",
        2,
        "vpn",
        "system directory",
        r"(?:^|[/\\\s=:])(?:var[/\\](?:log|www|mail|spool|lib/mysql)[/\\]|windows[/\\](?:system32|debug|"
        r"panther)|winnt[/\\]|inetpub[/\\]|system32[/\\]|usr[/\\](?:local[/\\])?(?:etc|lib|share)[/\\]|"
        r"\.ssh[/\\]|\.aws[/\\]|\.htaccess|web-inf[/\\])",
    ),
    (
        "bp-930115",
        "path_traversal",
        5,
        "vpn",
        "system file after encoded separators",
        r"\.\.[^a-z0-9]*(?:etc|windows|winnt|boot|proc|system32|inetpub)[^a-z0-9]+"
        r"(?:passwd|shadow|issue|hosts|group|win\.ini|system\.ini|boot\.ini|self|environ|drivers|sam)",
    ),
    (
        "bp-930120",
        "path_traversal",
        5,
        "vpn",
        "file inclusion wrapper",
        r"\b(?:file|php|zip|phar|expect|glob|jar|ogg|ssh2|rar|compress\.zlib|compress\.bzip2|"
        r"zlib|data|input|filter)://|\bphp://(?:input|filter|stdin|memory|fd)|\bresource\s*=",
    ),
    (
        "bp-930130",
        "path_traversal",
        2,
        "vpn",
        "absolute path to a sensitive directory",
        r"^(?:/|\\|[a-z]:[/\\])(?:etc|proc|var|root|home|usr|windows|winnt|boot|sys|dev|tmp|opt|"
        r"inetpub|program files)(?:[/\\]|$)",
    ),
    (
        "bp-930140",
        "path_traversal",
        3,
        "vpn",
        "encoded dot segments",
        r"(?:0x2e|%2e|%c0%ae|%e0%80%ae|%25c0%25ae|\.){2}(?:0x2f|0x5c|%2f|%5c|%c0%af|%c1%9c|%25(?:2f|5c))",
    ),
    (
        "bp-930150",
        "path_traversal",
        4,
        "vpn",
        "remote file inclusion",
        r"^(?:(?:https?|ftp):)?//[^?]*\?$|^(?:(?:https?|ftp):)?//\d{1,3}(?:\.\d{1,3}){3}/[^ ]*"
        r"\.(?:txt|php|sh|pl|py|jsp)\b|\b(?:c99|r57|c100|wso|b374k)\.(?:txt|php)\b",
    ),
    # -- server-side request forgery ----------------------------------------------------------
    (
        "bp-934100",
        "ssrf",
        5,
        "v",
        "cloud metadata address",
        r"169\.254\.169\.254|metadata\.google\.internal|\b100\.100\.100\.200\b|fd00:ec2::254|"
        r"\[::ffff:169\.254\.169\.254\]|\b0xa9fea9fe\b|\b2852039166\b|instance-data\b",
    ),
    (
        "bp-934110",
        "ssrf",
        5,
        "v",
        "URL to a loopback or internal address",
        r"^(?:https?|ftp|gopher|dict|ldap|tftp|sftp|ws)://(?:[^/@]*@)?(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|0+\b|"
        r"\[::1?\]|\[0:0:0:0:0:0:0:[01]\]|10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|172\.(?:1[6-9]|2\d|3[01])\.\d+\.\d+|"
        r"0x7f[0-9a-f.]*|0+177\.\d+\.\d+\.\d+|2130706433|017700000001|\d+\.\d+\.\d+\.\d+\.(?:nip|xip|sslip)\.io)(?:[:/?#]|$)",
    ),
    (
        "bp-934120",
        "ssrf",
        5,
        "v",
        "gopher or dict URL",
        r"\b(?:gopher|dict|tftp|jar|netdoc|ldap)://",
    ),
    # -- NoSQL injection ----------------------------------------------------------------------
    (
        "bp-935100",
        "nosql",
        5,
        "vn",
        "MongoDB query operator",
        r"(?:^|[\[{,\s\"'])\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|expr|or|and|not|nor|"
        r"elemmatch|type|mod|all|size|jsonschema|function|accumulator|lookup|text|search)\b",
    ),
    (
        "bp-935110",
        "nosql",
        5,
        "vn",
        "JavaScript in a query",
        r"(?:^|['\";])\s*(?:\|\||&&|;)?\s*(?:this\.\w+|return (?:true|false|1)|sleep\(\d+\)|"
        r"db\.\w+\.\w+\(|while\s*\(|new date\(\))|\b(?:do|while)\s*\{.*\}\s*while\s*\(",
    ),
    (
        "bp-935120",
        "nosql",
        4,
        "vn",
        "JSON condition in a string",
        r"^\s*\{\s*['\"]?\$[a-z]+['\"]?\s*:|\[\s*\$[a-z]+\s*\]|;\s*return\s",
    ),
    # -- LDAP injection -----------------------------------------------------------------------
    (
        "bp-936100",
        "ldap",
        5,
        "vn",
        "LDAP filter injection",
        r"\*\s*\)\s*\(\s*[|&!(]|\)\s*\(\s*[|&!]\s*\(|\(\s*[|&!]\s*\(\s*[a-z]+\s*[=~<>]|"
        r"\b(?:objectclass|objectcategory|samaccountname|userpassword|cn|uid|mail|givenname|sn)\s*=\s*\*|"
        r"^\*\s*\)|^\s*\*\s*[|&]|\)\s*\)\s*\(\s*\||\)\s*\(\s*[&|!]\s*\)|^\*?\(\)[|&]",
    ),
    (
        "bp-936110",
        "ldap",
        3,
        "vn",
        "LDAP wildcard filter",
        r"^\*$|^\*\s*\(|\(\s*\|\s*\(|^\s*[|&]\s*\(",
    ),
    # -- XML external entities ----------------------------------------------------------------
    (
        "bp-937100",
        "xxe",
        5,
        "vx",
        "external entity declaration",
        r"<!\s*(?:doctype|entity)[^>]*\b(?:system|public)\b|<!\s*entity\s+%|<!\s*entity\b",
    ),
    (
        "bp-937110",
        "xxe",
        5,
        "vx",
        "XInclude or XSLT",
        r"<\s*xi:include\b|xmlns:xi\s*=|<\s*xsl:|\bxsl:stylesheet\b",
    ),
    ("bp-937120", "xxe", 3, "vx", "DOCTYPE in a value", r"<!\s*doctype\b|<\?xml\b"),
    # -- server-side template injection -------------------------------------------------------
    (
        "bp-938100",
        "ssti",
        5,
        "v",
        "template expression",
        r"\{\{[^}]*(?:__class__|__mro__|__subclasses__|__globals__|__builtins__|__init__|"
        r"config|self\.|request\.|lipsum|cycler|joiner|namespace|\d+\s*[*+]\s*['\"]?\d+|popen|"
        r"\|\s*(?:filter|attr|map|select)\s*\(\s*['\"]|"
        r"os\.|system\(|\[\s*['\"]_)"
        r"|\{%[^%]*(?:import|popen|system|__class__|config|request\.|exec|eval)[^%]*%\}"
        r"|\$\{[^}]*(?:\d+\s*[*+]\s*\d+|\bjndi:|\bjava\.|runtime|class\b|"
        r"t\(java|@java|env:|sys:|\w+\.\w+\()|#\{[^}]*(?:\d+\s*[*+]\s*\d+|runtime|exec|"
        r"system|\.class)[^}]*\}|<%=?[^%]*(?:runtime|exec|system|process|\d+\s*[*+]\s*\d+)[^%]*%>"
        r"|\$\{jndi:|\$\{[^}]*\$\{(?:::-|lower:|upper:|env:|date:|sys:)",
    ),
    (
        "bp-938110",
        "ssti",
        2,
        "v",
        "template syntax",
        r"\{\{[^}]*\w+\s*\(|\{%[^%]*%\}|#\{[^}]*\}|<%=?[^%]*%>",
    ),
    # -- scanners -----------------------------------------------------------------------------
    (
        "bp-913100",
        "scanner_ua",
        5,
        "u",
        "security scanner User-Agent",
        r"\b(?:sqlmap|sqlninja|havij|nikto|nmap|nse/|masscan|zgrab|zmap|nuclei|wpscan|joomscan|"
        r"droopescan|whatweb|wapiti|w3af|arachni|skipfish|acunetix|netsparker|invicti|appscan|"
        r"webinspect|burp ?suite|burpcollaborator|qualys|openvas|nessus|nexpose|rapid7|"
        r"gobuster|dirbuster|dirb|dirsearch|feroxbuster|ffuf|fuzz faster u fool|wfuzz|"
        r"hydra|medusa|ncrack|commix|xsstrike|xsser|jaeles|jorgee|zmeu|morfeus|"
        r"brutus|grabber|paros|webshag|vega|metasploit|msf|bsqlbf|pangolin|absinthe|"
        r"nstealth|webvulnscan|httprint|fimap|dotdotpwn|crowdstrike ?scan|sitelock|"
        r"blackwidow|webcopier|zgrab|censysinspect|expanse|internet-?measurement|"
        r"l9explore|l9tcpid|leakix|interactsh|projectdiscovery|fuzz|scanner|sf/\d|"
        r"struts-?pwn|jexboss|weblogic ?scan|log4j ?scan|shellshock|wget/1\.\d+ \(ms\))",
    ),
    (
        "bp-913110",
        "scanner_ua",
        3,
        "u",
        "empty or placeholder User-Agent",
        r"^(?:-|\(\)|mozilla/[45]\.0|test|user-agent|ua|x|none|null|undefined)$",
    ),
    # -- scanner probes: paths no Python app serves ---------------------------------------------
    (
        "bp-913200",
        "scanner_probe",
        5,
        "p",
        "script extension of another platform",
        r"\.(?:php[0-9s]*|phtml|pht|phar|asp|aspx|ashx|asmx|axd|asa|cer|jsp|jspx|jsf|jhtml|do|action|"
        r"cgi|pl|cfm|cfc|cfml|shtml|shtm|stm|nsf|dll|exe|bat|cmd|inc|mdb|asax|ascx|config)(?:$|[/;.~:])",
    ),
    (
        "bp-913210",
        "scanner_probe",
        5,
        "p",
        "backup, dump or secret file",
        r"\.(?:bak|backup|bkp|bck|old|orig|original|save|sav|swp|swo|tmp|temp|sql|dump|sqlite3?|"
        r"db|pem|key|p12|pfx|jks|keystore|env|ini|cfg|conf|log|ovpn|kdbx|ppk|rdp|pgpass|htpasswd|"
        r"sql\.(?:gz|zip|bz2|xz|tar)|yml~|xml~|json~|php~)$|~$|(?:^|/)[^/]*(?:backup|dump|database|"
        r"www|site|web|html|htdocs|public_html|wwwroot|db|data|sql)[^/]*\.(?:zip|tar|tar\.gz|tgz|"
        r"gz|rar|7z|bz2|xz|war|jar|ear)$|^/[^/]+\.(?:tar|tar\.gz|tgz|rar|7z|war|ear)$",
    ),
    (
        "bp-913220",
        "scanner_probe",
        5,
        "p",
        "panel or file of another platform",
        r"(?:^|/)(?:wp-(?:admin|login|content|includes|config|json|cron|signup|trackback|links-opml|"
        r"mail)|xmlrpc|wordpress/|phpmyadmin|php-?my-?admin|pma/|myadmin|mysqladmin|sqladmin|adminer|"
        r"dbadmin|cgi-bin|cgi-sys|cgi-mod|fcgi-bin|server-status|server-info|solr/|boaform|"
        r"manager/(?:html|text|status)|host-manager|jmx-console|web-console|invoker/|jbossws|"
        r"axis2|hudson|jenkins/|script(?:text)?$|actuator(?:/|$)|_ignition|telescope/|elmah|"
        r"owa/|ecp/|autodiscover/|remote/(?:login|fgt_lang)|dana-na|dana-cached|\+cscoe\+|"
        r"\+cscol\+|sslvpn|global-protect|hnap1|stssys|druid/|nacos/|geoserver/|struts|"
        r"console/login|wls-wsat|_async/|uddiexplorer|vendor/phpunit|phpunit|jolokia|eval-stdin|_profiler|"
        r"app_dev|debug/default|sitefinity|scriptcase|administrator/|typo3|magento|umbraco|"
        r"bitrix|netscaler|webmin|plesk|cpanel|directadmin|roundcube|squirrelmail|ws_ftp|"
        r"filezilla|id_[rde]sa|id_ed25519|authorized_keys|known_hosts|docker-compose|dockerfile$|"
        r"composer\.(?:json|lock)|package(?:-lock)?\.json$|yarn\.lock|gemfile|web\.config|"
        r"crossdomain\.xml|clientaccesspolicy\.xml|secrets?\.|credentials|aws[-_./]|"
        r"env\.|config/(?:database|secrets|master\.key|storage|credentials|aws)|database\.yml|"
        r"settings\.py|local_settings|wp-config|config\.(?:json|ya?ml|xml|js|inc|bak|old)$|"
        r"phpinfo|info\.php|shell|webshell|c99|r57|wso\b|b374k|filesman|backdoor|"
        r"sftp-config\.json|\.?ftpconfig|tmui/|mifs/|sap/bc|nmaplowercheck|hudson|"
        r"sendgrid\.env|firebase\.json|service-account|debug\.log|error_log|access_log|"
        r"autoconfig|\.?htaccess|\.?htpasswd|\.?ds_store)",
    ),
]

RULES: Final[tuple[Rule, ...]] = tuple(
    Rule(id=rid, type=kind, score=score, pattern=pattern, where=where, name=name)
    for rid, kind, score, where, name, pattern in _RULES
)
"""Every signature, in id order within its family. Added in 0.1."""
