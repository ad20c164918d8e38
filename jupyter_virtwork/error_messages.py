"""What an error says to a learner, in English and Simplified Chinese, by a stable id.

The errors a learner meets in the course carry these sentences (``errors.Said``): a magic's
usage mistakes, a name that breaks a rule, an object that is not there or already is, an
engine that does not answer or takes too long, a classroom's quota and permissions, an
interrupted cell. ``line`` renders such an error in the learner's language; the English is
the error's own ``str()``, so English reads exactly as it did. An error without catalogue
sentences (an engine's rarer refusals) stays English in both.

A sentence's values are kept as the engine or the code gave them (names, URIs, the engine's
own detail); what the toolkit was doing (``doing``: "scaling Deployment 'web'") is English
in both languages, so the Chinese puts it first, as a label, like a log line's.
"""

from __future__ import annotations

from .errors import Said, VirtworkError
from .messages import DEFAULT_LANGUAGE, KIND_NAMES, Message

# --- the frame of every line -------------------------------------------------------------

WHERE = Message("{message} on {connection}", "{message}（{connection}）", id="line.where")
WITH_HINT = Message("{line}: {hint}", "{line}。{hint}", id="line.hint")


def line(error: VirtworkError, language: str) -> str:
    """The one line IPython shows for ``error`` in ``language``: its catalogue sentences
    when it has them, else its English (``str(error)``)."""
    if language == DEFAULT_LANGUAGE or error.said is None:
        return error.one_line()
    text = error.said.text(language)
    if error.connection:
        text = WHERE.format(language, message=text, connection=error.connection)
    hint = error.hint_said.text(language) if error.hint_said else error.hint
    if hint:
        text = WITH_HINT.format(language, line=text, hint=hint)
    return text.replace("\n", " ")


def kind(word: str) -> Said | str:
    """A kind of object as the learner's language names it (``container`` is 容器); a kind
    the catalogue lacks, such as most Kubernetes kinds, stays as it is, as Chinese texts
    write them."""
    known = KIND_NAMES.get(word.lower())
    return known() if known is not None and known.en == word else word


# --- a magic's words ---------------------------------------------------------------------

USAGE = Message("{prog}: {problem} (see {help}?)", "{prog}：{problem}（用法见 {help}?）",
                id="usage.line")
USAGE_ARGUMENT = Message("{prog}: {problem}", "{prog}：{problem}", id="usage.argument")
UNKNOWN_ARGUMENTS = Message("unrecognized arguments: {words}", "不认识的参数：{words}",
                            id="usage.unknown")
MISSING_ARGUMENTS = Message("the following arguments are required: {names}",
                            "缺少必填的参数：{names}", id="usage.missing")
INVALID_CHOICE = Message("argument {argument}: invalid choice: {value} (choose from "
                         "{choices})",
                         "参数 {argument} 不能取 {value}，可选的有：{choices}",
                         id="usage.choice")
EXPECTS_VALUE = Message("argument {argument}: expected one argument",
                        "参数 {argument} 后面要跟一个值", id="usage.expects-value")
INVALID_VALUE = Message("argument {argument}: invalid {type} value: {value}",
                        "参数 {argument} 的值 {value} 不是合法的 {type}",
                        id="usage.invalid-value")
NOT_LOADED = Message("the virtwork magics are not loaded in this shell",
                     "这个内核还没有加载 virtwork 的魔法命令", id="usage.not-loaded")
LOAD_THEM = Message("run %load_ext jupyter_virtwork", "先运行 %load_ext jupyter_virtwork",
                    id="hint.load-ext")
INTERRUPTED = Message("interrupted; the backend work was cancelled where the engine allows",
                      "已中断；引擎支持取消的操作，也已在后台一并取消", id="cancelled")
NO_CONNECTION = Message("no connection named {alias!r}", "没有名为 {alias!r} 的连接",
                        id="session.no-connection")
CONNECT_FIRST = Message("connect first with %vw connect URI --as ALIAS",
                        "先用 %vw connect URI --as 别名 建立连接", id="hint.connect-first")
LIST_CONNECTIONS = Message("%vw connections lists them", "%vw connections 可以列出所有连接",
                           id="hint.list-connections")

# --- names -------------------------------------------------------------------------------

NAME_TOO_LONG = Message("{what} name {name!r} is longer than {limit} characters",
                        "{what}的名称 {name!r} 超过了 {limit} 个字符", id="name.too-long")
NAME_INVALID = Message("{what} name {name!r} is not a valid name",
                       "{what}的名称 {name!r} 不合法", id="name.invalid")
NAME_USE = Message("use {rule}", "请使用{rule}", id="hint.name-rule")
RULE_K8S = Message(
    "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
    "小写字母、数字、'-' 和 '.'，并以字母或数字开头和结尾", id="name.rule.k8s")
RULE_PLAIN = Message("letters, digits, '_', '.' and '-', starting with a letter or digit",
                     "字母、数字、'_'、'.' 和 '-'，并以字母或数字开头", id="name.rule.plain")
RULE_IMAGE = Message(
    "a lowercase repository such as my-image or 127.0.0.1:5000/team/app, optionally with a "
    ":tag",
    "小写的镜像仓库名，例如 my-image 或 127.0.0.1:5000/team/app，后面可以带 :标签",
    id="name.rule.image")
RULE_IMAGE_REFERENCE = Message(
    RULE_IMAGE.en + ", or pinned by digest (my-image@sha256:...)",
    RULE_IMAGE.zh + "，也可以用摘要固定版本（my-image@sha256:...）",
    id="name.rule.image-reference")

# --- not there ---------------------------------------------------------------------------

NO_SUCH = Message("no {kind} {name!r}", "没有名为 {name!r} 的{kind}", id="not-found.named")
LIST_DOCKER = Message("list them with %docker ps -a", "用 %docker ps -a 列出现有的容器",
                      id="hint.list-docker")
IMAGE_NOT_LOCAL = Message("image {name!r} is not present locally and pulling is disabled",
                          "本机没有镜像 {name!r}，而且这里不会去拉取镜像",
                          id="not-found.image-local")
BUILD_OR_PUSH = Message("build it, or push it to the local registry",
                        "先构建它，或者把它推送到本地镜像仓库", id="hint.build-or-push")
NO_SUCH_OBJECT = Message("{doing}: no such object {name!r}", "{doing}：找不到 {name!r}",
                         id="not-found.docker")
NO_SUCH_OBJECT_UNNAMED = Message("{doing}: no such object", "{doing}：找不到要操作的对象",
                                 id="not-found.docker-unnamed")
NOT_IN_NAMESPACE = Message("{doing}: {name} not found in namespace {namespace}",
                           "{doing}：命名空间 {namespace} 中找不到 {name}",
                           id="not-found.k8s")
NO_VM = Message("no VM {name!r}", "没有名为 {name!r} 的虚拟机", id="not-found.vm")
LIST_VMS = Message("list them with %vm ls", "用 %vm ls 列出现有的虚拟机", id="hint.list-vms")
GONE = Message("{doing}: {name!r} no longer exists", "{doing}：{name!r} 已经不存在了",
               id="not-found.gone")

# --- there already -----------------------------------------------------------------------

EXISTS = Message("{name!r} already exists", "{name!r} 已经存在", id="exists.named")
EXISTS_DOING = Message("{doing}: {name!r} already exists", "{doing}：{name!r} 已经存在",
                       id="exists.doing")
EXISTS_DETAIL = Message("{doing}: {detail}", "{doing}：同名对象已经存在（{detail}）",
                        id="exists.detail")
EXISTS_FAILED = Message("{doing} failed: {detail}", "{doing} 失败：同名对象已经存在（{detail}）",
                        id="exists.failed")
VM_EXISTS = Message("a VM named {name!r} already exists", "已经有一台名为 {name!r} 的虚拟机了",
                    id="exists.vm")
VM_EXISTS_DOING = Message("{doing}: a VM named {name!r} exists already",
                          "{doing}：已经有一台名为 {name!r} 的虚拟机了", id="exists.vm-doing")
RENAME_OR_REMOVE = Message("choose another name, or remove the old one",
                           "换一个名字，或者先删掉原来那个", id="hint.rename-or-remove")
RENAME_OR_DELETE = Message("choose another name, or delete the old one",
                           "换一个名字，或者先删除原来那台", id="hint.rename-or-delete")
RENAME_OR_DESTROY = Message("choose another name, or destroy the old VM",
                            "换一个名字，或者先销毁原来那台虚拟机", id="hint.rename-or-destroy")

# --- an engine that does not answer ------------------------------------------------------

DOCKER_SILENT = Message("{doing} failed: the Docker engine did not answer ({why})",
                        "{doing} 失败：Docker 引擎没有响应（{why}）", id="engine.docker")
DOCKER_NO_SSH = Message("{doing} failed: no SSH connection to the Docker engine's host ({why})",
                        "{doing} 失败：SSH 连不上 Docker 引擎所在的主机（{why}）",
                        id="engine.docker-ssh")
START_DOCKER = Message(
    "start it (python -m jupyter_virtwork.sandbox up docker) or check DOCKER_HOST",
    "先启动它（python -m jupyter_virtwork.sandbox up docker），或者检查 DOCKER_HOST",
    id="hint.start-docker")
CHECK_SSH = Message(
    "check that `ssh -p {port} {login} docker version` works (the host's key in "
    "~/.ssh/known_hosts, yours in ~/.ssh or ssh-agent)",
    "检查 `ssh -p {port} {login} docker version` 能否成功（主机的公钥要在 ~/.ssh/known_hosts "
    "里，你的密钥在 ~/.ssh 或 ssh-agent 中）", id="hint.check-ssh")
KUBERNETES_SILENT = Message("{doing} failed: the Kubernetes API server did not answer",
                            "{doing} 失败：Kubernetes API 服务器没有响应", id="engine.k8s")
START_KUBERNETES = Message(
    "start it (python -m jupyter_virtwork.sandbox up kubernetes) or check the kube context",
    "先启动它（python -m jupyter_virtwork.sandbox up kubernetes），或者检查当前的 kube 上下文",
    id="hint.start-k8s")
NO_XEN = Message("there is no Xen hypervisor on this machine (libvirt: {detail})",
                 "这台机器上没有 Xen 虚拟机监控程序（libvirt：{detail}）", id="engine.no-xen")
OTHER_HYPERVISOR = Message("use qemu:///system or test:///default",
                           "请改用 qemu:///system 或 test:///default", id="hint.other-hypervisor")
LIBVIRT_SLOW = Message("libvirt did not answer within {seconds:.0f} s",
                       "libvirt 在 {seconds:.0f} 秒内没有响应", id="engine.libvirt-slow")
LIBVIRT_UNREACHABLE = Message("cannot connect to libvirt ({detail})", "连不上 libvirt（{detail}）",
                              id="engine.libvirt-connect")
LIBVIRT_SILENT = Message("{doing} failed: libvirt did not answer ({detail})",
                         "{doing} 失败：libvirt 没有响应（{detail}）", id="engine.libvirt-lost")
START_LIBVIRT = Message("start it: python -m jupyter_virtwork.sandbox up libvirt",
                        "先启动它：python -m jupyter_virtwork.sandbox up libvirt",
                        id="hint.start-libvirt")
CHECK_LIBVIRTD = Message("check that libvirtd runs there and the URI is right",
                         "检查那台机器上的 libvirtd 是否在运行，连接 URI 是否写对了",
                         id="hint.check-libvirtd")
VSPHERE_UNREACHABLE = Message("{doing}: cannot reach {host}:{port} ({why})",
                              "{doing}：连不上 {host}:{port}（{why}）", id="engine.vsphere")
NO_ANSWER_WITHIN = Message("no answer within {seconds:g} s", "{seconds:g} 秒内没有应答",
                           id="engine.no-answer")
START_VCSIM = Message(
    "check the host and port, or start the sandbox's simulator (python -m "
    "jupyter_virtwork.sandbox up vcsim)",
    "检查主机和端口，或者启动沙箱里的 vCenter 模拟器（python -m jupyter_virtwork.sandbox up "
    "vcsim）", id="hint.start-vcsim")

# --- too slow ----------------------------------------------------------------------------

LIBVIRT_TIMED_OUT = Message("{doing} timed out: {detail}", "{doing} 超时：{detail}",
                            id="timeout.libvirt")
ROLLOUT_TOO_SLOW = Message("{kind} {name!r} rollout not done after {seconds:.0f} s ({status})",
                           "{seconds:.0f} 秒后 {kind} {name!r} 的滚动更新还没有完成（{status}）",
                           id="timeout.rollout")
LOOK_AT_EVENTS = Message("look at its pods' events: %k8s get pods",
                         "看看它的 Pod 的事件：%k8s get pods", id="hint.rollout-events")
STILL_THERE = Message("{kind} {name!r} was still there after {seconds:.0f} s",
                      "{seconds:.0f} 秒后 {kind} {name!r} 仍然存在", id="timeout.delete")
TASK_TOO_SLOW = Message("{what} did not finish within {seconds:g} s",
                        "{what}：{seconds:g} 秒内没有完成", id="timeout.vsphere-task")
MAY_STILL_FINISH = Message("it may still finish: list the VMs to see",
                           "它可能稍后仍会完成：列出虚拟机看一看", id="hint.may-still-finish")

# --- permissions and quotas (a classroom's namespace) ------------------------------------

FORBIDDEN = Message("{doing}: {detail}", "{doing}：没有权限（{detail}）", id="forbidden.k8s")
CHECK_CREDENTIALS = Message("check the credentials of this kube context",
                            "检查这个 kube 上下文使用的凭据", id="hint.k8s-credentials")
OVER_QUOTA = Message("{doing}: {detail}", "{doing}：超出了命名空间的资源配额或限制（{detail}）",
                     id="forbidden.quota")
FREE_QUOTA = Message(
    "the namespace's quota or limits do not allow it: ask for less, delete what you no "
    "longer need, or ask your teacher for more",
    "这个命名空间的配额或限制不允许这样做：少申请一些资源，删掉不再需要的对象，或者请老师调大配额",
    id="hint.quota")
REFUSED_BY_CLASSROOM = Message("{doing}: {detail}", "{doing}：课堂环境不允许这样做（{detail}）",
                               id="forbidden.classroom")
REMOVE_SETTINGS = Message(
    "a learner's pod may not use these: remove them from its spec and apply again",
    "课堂里学员的 Pod 不能使用这些设置：把它们从 spec 中删掉，再重新 apply",
    id="hint.classroom-pod")
