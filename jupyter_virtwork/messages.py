"""What a learner reads, in the learner's language: English or Simplified Chinese.

A small catalogue rather than gettext: every ``Message`` holds both texts, so a sentence
cannot exist in one language only (the dataclass wants both), and the sentences are
``str.format`` templates with named fields. The Chinese is written for Chinese learners
(容器, 镜像, 命名空间, 部署, 副本, 虚拟机), not translated word by word, and keeps the commands
to type as they are.

The language is a setting of the magics (``%config VirtworkMagics.language = 'zh'``); its
default is ``from_environment()``: JupyterLab's own language if the learner chose one,
else the locale variables (LANGUAGE, LC_ALL, LC_MESSAGES, LANG).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import Said

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
# Where JupyterLab keeps the language picked in its Settings > Language menu.
LAB_TRANSLATION_SETTINGS = Path("@jupyterlab", "translation-extension",
                                "plugin.jupyterlab-settings")


@dataclass(frozen=True)
class Message:
    """One sentence in every language; ``format`` fills in its named fields. ``id`` names a
    sentence an error carries (``errors.Said``), stable when the code around it moves."""

    en: str
    zh: str
    id: str = ""

    def format(self, language: str, **values: object) -> str:
        template = self.zh if language == "zh" else self.en
        return template.format(**values)

    def __call__(self, **values: object) -> Said:
        """This sentence with its values, for an error to carry."""
        return Said(self, values)


NO_LANGUAGE = ("", "c", "posix", "default")  # locales and lab settings that name none


def language_of(tag: str) -> str | None:
    """The catalogue's language for a locale or language tag (``zh_CN.UTF-8``, ``zh-Hans``,
    ``en_US``, ``zh``); None for one it lacks or that names none (``C``, ``POSIX``)."""
    primary = _primary(tag)
    return primary if primary in LANGUAGES else None


def _primary(tag: str) -> str:
    return re.split(r"[-_.@:]", tag.strip().lower(), maxsplit=1)[0]


def from_environment() -> str:
    """JupyterLab's chosen language, else the first locale variable that names one, else
    English (also for a language the catalogue lacks: it is the learner's second best)."""
    for tag in (_lab_locale(), *(os.environ.get(v, "") for v in LOCALE_VARIABLES)):
        if _primary(tag) not in NO_LANGUAGE:
            return language_of(tag) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def _lab_locale() -> str:
    """The ``locale`` of JupyterLab's translation settings ("" when unset or unreadable).
    The file is JSON5 (it may hold comments), so the one key is read with a pattern."""
    # JupyterLab's own default: <jupyter config dir>/lab/user-settings
    config = os.environ.get("JUPYTER_CONFIG_DIR") or str(Path.home() / ".jupyter")
    folder = os.environ.get("JUPYTERLAB_SETTINGS_DIR") or str(Path(config, "lab",
                                                                    "user-settings"))
    try:
        text = Path(folder, LAB_TRANSLATION_SETTINGS).read_text(encoding="utf-8")
    except OSError:
        return ""
    found = re.search(r'"locale"\s*:\s*("(?:[^"\\]|\\.)*")', text)
    return str(json.loads(found.group(1))) if found else ""


# --- a live table's status line (widgets.StatusTable) ------------------------------------

STREAM_STATUS = {
    "connecting": Message("connecting", "正在连接"),
    "connected": Message("connected", "已连接"),
    "disconnected": Message("disconnected", "连接已断开"),
    "unknown": Message("unknown", "状态未知"),
}
RETRYING = Message("disconnected, retrying: {why}", "连接已断开，正在重试：{why}")


# --- what %vw check says ---------------------------------------------------------------------

KIND_NAMES = {
    "container": Message("container", "容器"),
    "image": Message("image", "镜像"),
    "pod": Message("Pod", "Pod"),
    "deployment": Message("deployment", "部署（Deployment）"),
    "vm": Message("VM", "虚拟机"),
}

# Our state vocabulary (models.State) as a learner reads it; the Chinese keeps the word the
# tables and the engines show, in brackets.
STATE_NAMES = {
    "pending": Message("pending", "等待中（pending）"),
    "created": Message("created (never started)", "已创建、未启动（created）"),
    "running": Message("running", "正在运行（running）"),
    "paused": Message("paused", "已暂停（paused）"),
    "suspended": Message("suspended", "已挂起（suspended）"),
    "stopped": Message("stopped", "已停止（stopped）"),
    "restarting": Message("restarting", "正在重启（restarting）"),
    "succeeded": Message("finished (succeeded)", "已运行结束（succeeded）"),
    "failed": Message("failed", "已失败（failed）"),
    "available": Message("available", "可用（available）"),
    "progressing": Message("still rolling out", "正在更新（progressing）"),
    "deleted": Message("deleted", "已删除（deleted）"),
    "unknown": Message("in an unknown state", "状态未知（unknown）"),
}

WHERE_CONNECTION = Message("on {uri}", "{uri} 上")
WHERE_NAMESPACE = Message("in namespace {namespace} ({uri})", "命名空间 {namespace}（{uri}）中")

PASSED = Message("✔ {kind} {name} {where} is {state}", "✔ {where}的{kind} {name} {state}")
PASSED_FACTS = Message("✔ {kind} {name} {where}: {facts}", "✔ {where}的{kind} {name}：{facts}")
FAILED = Message("✘ {problem}: {hint}", "✘ {problem}。{hint}")

MISSING = Message("there is no {kind} named {name} {where}", "{where}没有名为 {name} 的{kind}")
WRONG_STATE = Message("{kind} {name} {where} is {actual}, not {wanted}",
                      "{where}的{kind} {name} 现在{actual}，要求的是 {wanted}")
WRONG_FACTS = Message("{kind} {name} {where} is not as asked: {problems}",
                      "{where}的{kind} {name} 不符合要求：{problems}")
FACT_SEPARATOR = Message(", ", "，")
PROBLEM_SEPARATOR = Message("; ", "；")
REASON = Message("{state}: {reason}", "{state}：{reason}")

TRY = Message("try {command}", "试试 {command}")
TRY_THEN = Message("try {first}, then {then}", "先 {first}，再 {then}")

# containers
CREATE_CONTAINER = Message(
    "create it with %docker run -d --name {name} IMAGE (%docker ps -a lists every container)",
    "先用 %docker run -d --name {name} 镜像名 创建它（%docker ps -a 列出所有容器）")
WHY_IT_STOPPED = Message("{try_}; %docker logs {name} shows why it stopped",
                         "{try_}；%docker logs {name} 能看到它为什么停了")
CONTAINER_STATE = Message("%docker ps -a shows its state", "%docker ps -a 可以查看它的状态")

# images
BUILD_IMAGE = Message(
    "build it first: a %%dockerfile -t {name} cell, or %docker build -t {name} FOLDER",
    "先构建它：用 %%dockerfile -t {name} 单元格，或 %docker build -t {name} 目录")
IMAGE_PRESENT = Message("✔ image {name} is here {where}", "✔ {where}有镜像 {name}")
IMAGE_PUSHED = Message("✔ image {name} is in its registry as {references}",
                       "✔ 镜像 {name} 已推送到镜像仓库：{references}")
NOT_PUSHED = Message("image {name} {where} is not in a registry",
                     "{where}的镜像 {name} 还没有推送到镜像仓库")
NOT_PUSHED_AS_BUILT = Message(
    "the registry does not hold image {name} as built here (looked for {references})",
    "镜像仓库里没有本机构建的这个镜像 {name}（查找了 {references}）")
PUSH_IMAGE = Message("push it with %docker push {name}", "用 %docker push {name} 推送它")
PUSH_AGAIN = Message("push it again with %docker push {name}; if that fails, the registry "
                     "is not answering",
                     "用 %docker push {name} 重新推送；如果推送失败，说明镜像仓库没有响应")

# pods and deployments
APPLY_POD = Message(
    "create it: put its YAML in a %%k8s apply cell (%k8s get pods -n {namespace} lists the "
    "pods there)",
    "先创建它：把它的 YAML 写进 %%k8s apply 单元格（%k8s get pods -n {namespace} "
    "列出这个命名空间的 Pod）")
APPLY_DEPLOYMENT = Message(
    "create it: put its YAML in a %%k8s apply cell (%k8s get deployments -n {namespace} "
    "lists the deployments there)",
    "先创建它：把它的 YAML 写进 %%k8s apply 单元格（%k8s get deployments -n {namespace} "
    "列出这个命名空间的部署）")
POD_NOT_STARTED = Message(
    "it has not started yet: wait a moment and check again; %k8s get events -n {namespace} "
    "says what it is waiting for",
    "它还没有启动：稍等片刻再检查；%k8s get events -n {namespace} 能看到它在等什么")
POD_FAILED = Message(
    "%k8s logs {name} -n {namespace} and %k8s get events -n {namespace} show why",
    "%k8s logs {name} -n {namespace} 和 %k8s get events -n {namespace} 能看到原因")
POD_STATE = Message("%k8s get pods -n {namespace} shows its state",
                    "%k8s get pods -n {namespace} 可以查看它的状态")
WRONG_REPLICAS = Message(
    "deployment {name} {where} asks for {desired} replicas, not {wanted}",
    "{where}的部署 {name} 设定的副本数是 {desired}，要求的是 {wanted}")
SCALE = Message("scale it: %k8s scale --replicas={wanted} deployment/{name} -n {namespace} "
                "--wait",
                "调整副本数：%k8s scale --replicas={wanted} deployment/{name} -n {namespace} "
                "--wait")
NOT_READY = Message(
    "only {ready} of the {wanted} replicas of deployment {name} {where} are ready",
    "{where}的部署 {name} 要求 {wanted} 个副本，目前只有 {ready} 个就绪")
WAIT_ROLLOUT = Message(
    "wait for the rollout (%k8s scale --replicas={wanted} deployment/{name} -n {namespace} "
    "--wait follows it); %k8s get pods -n {namespace} shows the pods that are not ready",
    "等待滚动更新完成（%k8s scale --replicas={wanted} deployment/{name} -n {namespace} "
    "--wait 会一直跟踪到完成）；%k8s get pods -n {namespace} 能看到哪些 Pod 还没就绪")
DEPLOYMENT_STATE = Message("%k8s get deployments -n {namespace} shows its state",
                           "%k8s get deployments -n {namespace} 可以查看它的状态")
REPLICAS_READY = Message("{ready} of {desired} replicas ready", "{ready}/{desired} 个副本已就绪")

# VMs
CREATE_VM = Message("create it with %vm create {name} --on CONNECTION (%vm ls --on "
                    "CONNECTION lists the VMs there)",
                    "先用 %vm create {name} --on 连接 创建它（%vm ls --on 连接 列出那里的虚拟机）")
CPUS = Message("vCPUs {count}", "虚拟 CPU {count} 个")
MEMORY = Message("memory {size}", "内存 {size}")
DISKS = Message("disks {sizes}", "磁盘 {sizes}")
NO_DISK = Message("no disk", "没有磁盘")
STATE_FACT = Message("{state}", "当前{state}")
NOT_WANTED = Message("{actual} (wanted {wanted})", "{actual}，要求 {wanted}")
AT_NEXT_START = Message(
    "{try_} (a change made while the VM runs may wait for its next start: %vm stop, then "
    "%vm start)",
    "{try_}（虚拟机运行时做的修改，可能要等下次启动才生效：先 %vm stop，再 %vm start）")
VM_STATE = Message("%vm ls --on {on} shows its state", "%vm ls --on {on} 可以查看它的状态")

# the check itself
TOO_SLOW = Message(
    "the check of {kind} {name} did not finish within {seconds:g} s",
    "{seconds:g} 秒内没有完成对{kind} {name} 的检查")
TOO_SLOW_HINT = Message(
    "the engine is busy or not answering: run the cell again, or give --timeout {more:g}",
    "引擎可能正忙或没有响应：再运行一次这个单元格，或者加上 --timeout {more:g}")
UNKNOWN_STATE = Message(
    "%vw check: {word!r} is not a state a {kind} can be in; use one of {words}",
    "%vw check：{word!r} 不是{kind}会有的状态；可以用：{words}")
NOT_FOR_KIND = Message("%vw check {kind}: {option} is only for checks of {kinds}",
                       "%vw check {kind}：{option} 只用于检查{kinds}")
BAD_NAMESPACE = Message(
    "{name!r} (from {source}) cannot be a namespace: a namespace is lowercase letters, "
    "digits and '-'",
    "{name!r}（来自 {source}）不能作为命名空间名：命名空间只能由小写字母、数字和 '-' 组成")
NAMESPACE_HINT = Message("give --namespace NAME, or set VW_NAMESPACE",
                         "请加上 --namespace 名称，或设置环境变量 VW_NAMESPACE")
