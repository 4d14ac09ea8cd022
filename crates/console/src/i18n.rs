//! The console's labels: one catalogue per language, looked up by key. Reasons come from the
//! domain's reason catalogue (`domain::ReasonCode::message_zh` / `message_en`), not from here.

pub use domain::Lang;

/// The label catalogue of one language, as `(key, text)`.
type Catalogue = &'static [(&'static str, &'static str)];

pub const ZH: Catalogue = &[
    ("app.title", "DSCO ⇄ 领星 控制台"),
    ("nav.overview", "概览"),
    ("nav.orders", "订单"),
    ("nav.runs", "任务运行"),
    ("nav.lang_switch", "English"),
    ("nav.mappings", "映射"),
    ("nav.audit", "审计日志"),
    ("nav.stock", "库存"),
    ("stock.title", "库存同步"),
    (
        "stock.held_callout",
        "有被零库存保护暂停的同步：确认后用 stock release 放行",
    ),
    ("stock.since", "导出自"),
    ("stock.runs", "同步运行"),
    ("stock.state", "状态"),
    ("stock.read", "读取 SKU"),
    ("stock.changed", "变化"),
    ("stock.sent", "发送"),
    ("stock.drops", "降为 0"),
    ("stock.items", "逐 SKU 明细"),
    ("stock.dsco_before", "DSCO 原值"),
    ("stock.lx_available", "领星可用"),
    ("stock.reserve", "预留"),
    ("stock.to_send", "发送值"),
    ("stock.diff", "差异"),
    ("stock.outcome", "结果"),
    ("stock.more", "只显示前 500 条（导出 CSV 查看全部）"),
    ("nav.config", "配置"),
    ("config.title", "运行配置"),
    ("config.size", "批量"),
    ("config.settings", "设置"),
    ("config.next_fires", "接下来三次运行"),
    ("config.versions", "版本"),
    ("config.version", "版本"),
    ("config.from", "从"),
    ("config.to", "到"),
    ("config.diff", "对比"),
    ("config.no_changes", "两个版本相同。"),
    ("config.json", "完整配置（JSON，不含 mapping.sku）"),
    ("mappings.title", "映射"),
    ("mappings.entries", "条"),
    ("mappings.lingxing_sku", "领星 SKU"),
    ("mappings.source", "来源"),
    ("mappings.more", "条未显示（用 SKU 筛选）"),
    ("mappings.conflicts", "最近一次 pull_sku_pair 的配对冲突"),
    ("mappings.changes", "谁在何时修改了配置和映射"),
    ("mappings.shop", "DSCO 零售商 → 领星店铺 store_id"),
    ("mappings.warehouse", "DSCO 仓库代码 → 领星仓库 wid"),
    (
        "mappings.shipment",
        "仓库-服务级别 → 领星物流方式 logistics_type_id",
    ),
    ("mappings.carrier", "服务级别 → 回传 DSCO 的承运商"),
    ("mappings.from", "DSCO"),
    ("mappings.to", "领星"),
    ("audit.title", "审计日志"),
    ("audit.at", "时间"),
    ("audit.actor", "操作人"),
    ("audit.action", "动作"),
    ("audit.target", "对象"),
    ("audit.reason", "原因"),
    ("nav.alerts", "告警"),
    ("alerts.title", "告警"),
    ("overview.open_alerts", "未恢复的告警"),
    (
        "alerts.intro",
        "同一问题只告警一次；问题消除后发送“已恢复”。每个通道的投递、重试次数和机器人的回复见下表。",
    ),
    ("alerts.open_title", "未恢复的告警"),
    ("alerts.resolved_title", "已恢复"),
    ("alerts.severity", "级别"),
    ("alerts.what", "问题"),
    ("alerts.opened", "发生时间"),
    ("alerts.resolved_at", "恢复时间"),
    ("alerts.deliveries", "投递记录"),
    (
        "alerts.no_deliveries",
        "还没有投递（未配置 [[alerts]] 通道时告警只记录在这里）",
    ),
    ("alerts.channel", "通道"),
    ("alerts.alert", "告警"),
    ("alerts.state", "状态"),
    ("alerts.attempts", "尝试次数"),
    ("alerts.answer", "回复"),
    ("alerts.at", "时间"),
    ("nav.reconcile", "对账"),
    ("reconcile.title", "对账"),
    (
        "reconcile.intro",
        "reconcile 任务和命令核对本服务、DSCO 与领星：落后（对方已前进，订单已标记给其任务按正常规则推进）、超前（本服务记录的写入对方未显示）、不一致（需人工处理）。",
    ),
    ("reconcile.all", "全部"),
    ("reconcile.open", "未解决"),
    ("reconcile.none", "没有发现。"),
    ("reconcile.po", "PO"),
    ("reconcile.kind", "类型"),
    ("reconcile.finding", "发现"),
    ("reconcile.todo", "处理方法"),
    ("reconcile.found", "发现时间"),
    ("reconcile.seen", "最近确认"),
    ("reconcile.resolved", "解决时间"),
    ("reconcile.still_open", "未解决"),
    ("reconcile.order_title", "对账发现"),
    ("reconcile.all_findings", "全部对账发现"),
    ("alerts.open", "发生"),
    ("alerts.resolved", "恢复"),
    ("alerts.pending", "待重试"),
    ("alerts.delivered", "已送达"),
    ("alerts.failed", "失败"),
    ("alerts.skipped", "不发送"),
    ("common.times_in", "时间按时区显示："),
    ("common.none", "无"),
    ("common.yes", "是"),
    ("common.no", "否"),
    ("common.count", "数量"),
    ("common.oldest", "最久"),
    ("common.stage", "阶段"),
    ("common.reason", "原因"),
    ("common.kind", "类别"),
    ("common.details", "详情"),
    ("common.view", "查看"),
    ("common.not_found", "未找到"),
    ("common.error", "出错了"),
    ("act.refused", "操作被拒绝"),
    (
        "act.csrf",
        "表单已过期或不是从本控制台提交的（缺少或不匹配的 CSRF 令牌）。请刷新页面后重试；没有执行任何操作。",
    ),
    (
        "act.viewer",
        "只读用户（viewer）不能执行操作；没有执行任何操作。",
    ),
    (
        "act.viewer_page",
        "只读用户（viewer）可以查看，但不能在这里执行操作；请让管理员（admin）处理。",
    ),
    (
        "act.too_large",
        "提交的表单过大（上限 1 MiB）；没有执行任何操作。",
    ),
    ("act.bad_form", "表单字段无法读取"),
    (
        "act.no_reason",
        "请填写原因（记入审计日志）；没有执行任何操作。",
    ),
    ("login.title", "登录"),
    ("login.name", "用户名"),
    ("login.password", "密码"),
    ("login.submit", "登录"),
    ("login.logout", "退出登录"),
    ("login.viewer", "只读"),
    (
        "login.hint",
        "用户在部署配置的 [[console.users]] 中设置；密码哈希用 dsco-lingxing console hash-password 生成。",
    ),
    ("login.wrong", "用户名或密码错误。"),
    (
        "login.limited",
        "登录失败次数过多（15 分钟内 10 次）：请 15 分钟后再试。本次尝试未检查密码。",
    ),
    (
        "login.ended",
        "会话已结束（长时间未操作或已退出），请重新登录。",
    ),
    ("login.required", "请先登录；没有执行任何操作。"),
    (
        "writes.banner",
        "全局写入已停止：不会向 DSCO 或领星写入任何内容（任务仍在运行，只读取和决策）。",
    ),
    ("writes.resume", "恢复写入"),
    ("writes.stop", "停止全部写入"),
    ("writes.reason", "原因（必填）"),
    ("common.back_overview", "返回概览"),
    ("kind.waiting", "等待中"),
    ("kind.needs_attention", "需处理"),
    ("kind.retrying", "重试中"),
    ("kind.held", "已暂停"),
    ("kind.stuck", "卡单"),
    ("overview.title", "概览"),
    ("overview.stages", "各阶段订单"),
    ("overview.attention", "需处理（按原因分组）"),
    (
        "overview.in_sync",
        "一切正常：没有需处理、暂停、重试中或卡住的订单。",
    ),
    ("overview.jobs", "任务"),
    ("overview.writes_on", "写入已开启"),
    (
        "overview.writes_off",
        "写入已关闭：不会向 DSCO 或领星写入任何内容",
    ),
    ("overview.config_version", "运行配置版本"),
    (
        "overview.no_config",
        "没有运行配置：请用 config import 导入",
    ),
    ("overview.cause", "原因"),
    ("overview.orders", "订单数"),
    (
        "overview.stuck_hint",
        "超过 stuck_after_periods 个周期未推进",
    ),
    ("job.name", "任务"),
    ("job.schedule", "计划"),
    ("job.last_run", "上次运行"),
    ("job.outcome", "结果"),
    ("job.counts", "处理 / 推进 / 跳过 / 失败"),
    ("job.next_fire", "下次运行"),
    ("job.disabled", "已停用"),
    ("job.not_configured", "未配置"),
    ("job.never", "从未运行"),
    ("orders.title", "订单"),
    ("orders.filter", "筛选"),
    ("orders.search_po", "PO 号（精确匹配直接打开）"),
    ("orders.any", "全部"),
    ("orders.reason_code", "原因代码"),
    ("orders.subject", "原因对象"),
    ("orders.retailer", "零售商"),
    ("orders.warehouse", "仓库"),
    ("orders.sku", "SKU"),
    ("orders.tracking", "运单号"),
    ("orders.lx_order", "领星订单号"),
    ("orders.created_from", "DSCO 创建起"),
    ("orders.created_to", "DSCO 创建止"),
    ("orders.updated_from", "DSCO 更新起"),
    ("orders.updated_to", "DSCO 更新止"),
    ("orders.sort", "排序"),
    ("orders.oldest_first", "最久在前"),
    ("orders.newest_first", "最新在前"),
    ("orders.apply", "筛选"),
    ("orders.reset", "清除"),
    ("orders.export_csv", "导出 CSV"),
    ("orders.next_page", "下一页 →"),
    ("orders.first_page", "← 第一页"),
    ("orders.empty", "没有符合条件的订单。"),
    ("orders.po", "PO 号"),
    ("orders.in_stage_since", "进入阶段"),
    ("orders.age", "停留"),
    ("orders.dsco_created", "DSCO 创建"),
    ("orders.skus", "行（SKU×数量）"),
    ("order.title", "订单"),
    ("order.since", "进入本阶段"),
    ("order.no_reason", "没有待处理的原因。"),
    ("order.stuck", "卡单：在本阶段停留超过阈值"),
    ("order.next_attempt", "下次尝试"),
    ("order.attempts", "次尝试"),
    ("order.flags", "标记"),
    ("order.timeline", "时间线（最新在前）"),
    ("order.dsco", "DSCO"),
    ("order.dsco_status", "状态"),
    ("order.lifecycle", "生命周期"),
    ("order.service_level", "服务级别"),
    ("order.ship_to", "收货人"),
    ("order.lines", "订单行"),
    ("order.line", "行"),
    ("order.quantity", "数量"),
    ("order.title_col", "品名"),
    ("order.raw_payload", "DSCO 原始数据"),
    ("order.download", "下载 JSON"),
    ("order.lingxing", "领星"),
    ("order.lx_orders", "领星订单"),
    ("order.lx_status", "状态"),
    ("order.write_key", "对象（PO / 运单号）"),
    ("order.outbounds", "出库单"),
    ("order.wo", "出库单号"),
    ("order.carrier", "承运商"),
    ("order.shipped_at", "出库时间"),
    ("order.sent_to_dsco", "已回传 DSCO"),
    ("order.confirmed", "已确认"),
    ("order.writes", "写入记录"),
    ("order.invoice", "发票"),
    ("order.requests", "DSCO 异步请求"),
    ("order.request_id", "requestId"),
    ("order.pending", "待确认"),
    ("order.done", "已完成"),
    ("order.checked_lx", "领星数据读取于"),
    ("order.store", "领星店铺"),
    ("tl.event", "事件"),
    ("tl.write", "写入"),
    ("tl.request", "DSCO 请求"),
    ("tl.operator", "操作员"),
    ("tl.times", "次，首次"),
    ("outcome.pulled", "拉取"),
    ("outcome.advanced", "推进"),
    ("outcome.skipped", "跳过"),
    ("outcome.submitted", "已提交"),
    ("outcome.noted", "记录"),
    ("outcome.operator", "人工操作"),
    ("runs.title", "任务运行"),
    ("runs.job", "任务"),
    ("runs.all_jobs", "全部任务"),
    ("runs.started", "开始"),
    ("runs.duration", "耗时"),
    ("runs.trigger", "触发"),
    ("runs.outcome", "结果"),
    ("runs.processed", "处理"),
    ("runs.advanced", "推进"),
    ("runs.waiting", "等待"),
    ("runs.attention", "需处理"),
    ("runs.retrying", "重试"),
    ("runs.held", "暂停"),
    ("runs.failed", "失败"),
    ("runs.rejected", "被拒绝的触发（任务已在运行）"),
    ("runs.blocking", "阻塞的运行"),
    ("runs.repeats", "次数"),
    ("runs.empty", "还没有运行记录。"),
    ("run.title", "运行"),
    ("run.what_it_did", "对订单做了什么"),
    ("run.error", "错误"),
    ("run.detail", "运行详情"),
    ("run.dry_run", "演练（不写入）"),
    ("run.only_po", "仅限 PO"),
    ("run.holder", "执行者"),
    ("run.config_version", "配置版本"),
    ("run.no_events", "这次运行没有记录订单事件。"),
    // --- operator actions (issue 16) ---
    ("ops.refused", "操作未执行"),
    ("ops.reason", "原因（必填，记入审计日志）"),
    ("ops.reason_hint", "为什么这样做？"),
    (
        "ops.no_engine",
        "此进程没有运行任务的引擎，无法立即运行；不勾选“立即运行”重试即可。",
    ),
    ("ops.back_order", "返回订单"),
    ("ops.back_list", "返回订单列表"),
    ("ops.retry", "重试"),
    ("ops.retry_title", "立即重试"),
    ("ops.run_now", "立即为此单运行该阶段的任务"),
    ("ops.retried_next", "已清除退避，下次运行时由此任务处理："),
    ("ops.run", "运行"),
    ("ops.advanced", "推进"),
    ("ops.skipped", "跳过"),
    ("ops.failed", "失败"),
    (
        "ops.run_rejected",
        "该任务正在运行，本次请求被拒绝；订单将由那次或下一次运行处理",
    ),
    ("ops.now_at", "现在"),
    ("ops.retry_all", "全部重试"),
    ("ops.retry_all_title", "重试所有匹配的订单"),
    ("ops.filter", "筛选"),
    (
        "ops.will_retry",
        "个订单将被重试（已完成或已取消的订单除外），各自在所处阶段任务的下次运行时处理。",
    ),
    ("ops.none_match", "没有可重试的订单。"),
    ("ops.over_limit", "匹配的订单超过上限"),
    ("ops.narrow", "请缩小筛选范围。"),
    (
        "ops.retried_n",
        "个订单已重试，各自在所处阶段任务的下次运行时处理。",
    ),
    ("ops.ignore", "忽略"),
    ("ops.unignore", "取消忽略"),
    ("ops.ignore_title", "忽略订单"),
    ("ops.unignore_title", "取消忽略"),
    (
        "ops.ignore_hint",
        "从“需处理”中移出，阶段不变；在订单列表的“已忽略”筛选中仍可见。",
    ),
    ("ops.is_ignored", "此订单已被忽略：不计入需处理。"),
    ("ops.ignored_done", "已忽略：不再计入需处理，阶段不变。"),
    ("ops.unignored_done", "已取消忽略：重新计入需处理。"),
    ("ops.ignored_already", "已经是忽略状态，未写入任何内容。"),
    ("ops.unignored_already", "本来就未被忽略，未写入任何内容。"),
    ("ops.ignored", "已忽略"),
    ("ops.ignored_badge", "已忽略"),
    ("ops.ignored_default", "默认（需处理时隐藏）"),
    ("ops.ignored_only", "只看已忽略"),
    ("ops.ignored_hide", "隐藏已忽略"),
    ("ops.ignored_any", "全部"),
    ("ops.force_title", "强制阶段"),
    (
        "ops.force_hint",
        "只能向前，或改为 6 已取消；下一步会显示任务之后会做和不会做的事。",
    ),
    ("ops.force_to", "改为阶段"),
    ("ops.force_next", "下一步：确认"),
    ("ops.fix", "修复原因"),
    ("ops.fix_title", "修复原因：添加映射"),
    ("ops.fix_submit", "保存映射并重试等待它的订单"),
    ("ops.key", "键（DSCO 侧）"),
    ("ops.lingxing_value", "领星的值"),
    ("ops.waiting_on_it", "个订单在等待此映射："),
    ("ops.saved_version", "已保存为版本"),
    ("ops.unchanged", "已是此值，未写入新版本"),
    ("ops.see_orders", "查看这些订单"),
    ("ops.set_entry", "设置一条映射"),
    ("ops.set_next", "下一步"),
    ("ops.set_manual", "手工设置"),
    ("ops.mapping", "映射"),
    ("ops.release", "放行"),
    ("ops.release_title", "放行零库存保护"),
    ("ops.release_reason", "为什么降为 0 是真实的（必填）"),
    (
        "ops.released",
        "个被暂停的同步已放行，下一次 sync_stock 将照常发送",
    ),
    (
        "ops.nothing_held",
        "没有被暂停的 sync_stock 运行，无需放行。",
    ),
    (
        "mappings.sku",
        "DSCO SKU → 领星 SKU（手工条目，来源 manual）",
    ),
    // Run a job (issue 16 action 5)
    ("runjob.title", "运行任务"),
    (
        "runjob.intro",
        "立即运行一个任务，可只针对一个 PO。演练会构建将要发送的请求并显示出来，但不写入 DSCO 或领星，也不推进订单。",
    ),
    ("runjob.po", "仅限 PO（可选）"),
    ("runjob.po_hint", "订单必须处于该任务处理的阶段。"),
    ("runjob.dry_run", "演练：显示将发送的请求，不写入"),
    ("runjob.reason_hint", "为什么手动运行？（写入审计日志）"),
    ("runjob.submit", "运行"),
    ("runjob.cancel", "取消"),
    (
        "runjob.running",
        "该任务正在运行，本次请求被拒绝（已记录为被拒绝的触发）；请在它结束后再试。阻塞的运行",
    ),
    (
        "runjob.unavailable",
        "此控制台进程不运行任务，无法执行操作。",
    ),
    ("runjob.link", "运行任务"),
    ("runjob.for_po", "为此 PO 运行任务"),
    (
        "run.dry_callout",
        "演练：没有向 DSCO 或领星写入任何内容，也没有推进任何订单。下面是将要发送的请求。",
    ),
    ("run.decisions", "每个订单的决定"),
    ("run.requests", "请求"),
    ("run.req_sent", "已发送"),
    ("run.req_not_sent", "未发送"),
    ("run.req_orders", "个订单"),
    ("run.decision", "决定"),
    ("run.left_out", "条未保留"),
    ("run.again_real", "正式运行"),
    ("outcome.dry_run", "演练"),
    ("run_outcome.running", "运行中"),
    ("run_outcome.succeeded", "成功"),
    ("run_outcome.failed", "失败"),
    ("run_outcome.timed_out", "超时"),
    ("run_outcome.lease_lost", "租约丢失"),
    ("run_outcome.cancelled", "已中止"),
    ("trigger.cron", "定时"),
    ("trigger.manual", "控制台手动"),
    ("trigger.cli", "命令行"),
    ("intent_state.pending", "待发送"),
    ("intent_state.submitted", "已提交"),
    ("intent_state.ambiguous", "结果未知"),
    ("intent_state.confirmed", "已确认"),
    ("intent_state.failed", "失败"),
    // Edit the runtime config (issue 16 action 7)
    ("cfgedit.link", "编辑"),
    ("cfgedit.title", "编辑运行配置"),
    (
        "cfgedit.intro",
        "每次修改先显示与运行中版本的差异，确认后保存为新版本（调度器自动加载）并写入审计日志。校验与 config check 相同；被拒绝的修改不会写入，运行中的配置保持不变。",
    ),
    ("cfgedit.not_configured", "未配置"),
    ("cfgedit.enable", "启用"),
    ("cfgedit.setting", "其他设置"),
    ("cfgedit.value", "值"),
    ("cfgedit.preview", "预览差异"),
    ("cfgedit.mappings", "映射（添加、修改、删除条目）"),
    ("cfgedit.mapping", "映射"),
    ("cfgedit.key", "键"),
    ("cfgedit.empty_removes", "留空表示删除该键。"),
    ("cfgedit.any", "任意设置（按键路径）"),
    (
        "cfgedit.key_hint",
        "与 config set 相同：writes_enabled、jobs.<任务>.<设置>、mapping.<名称>.<键>",
    ),
    ("cfgedit.confirm_title", "确认配置修改"),
    ("cfgedit.confirm_intro", "尚未保存。修改："),
    ("cfgedit.running", "运行中版本"),
    ("cfgedit.diff", "差异"),
    ("cfgedit.old", "原值"),
    ("cfgedit.new", "新值"),
    (
        "cfgedit.reason_hint",
        "为什么修改？（写入配置历史和审计日志）",
    ),
    ("cfgedit.save", "保存为新版本"),
    ("cfgedit.refused", "修改被拒绝，未写入任何内容："),
    ("cfgedit.saved", "已保存为新版本"),
    ("cfgedit.rollback", "回滚到此版本"),
];

pub const EN: Catalogue = &[
    ("app.title", "DSCO ⇄ LingXing console"),
    ("nav.overview", "Overview"),
    ("nav.orders", "Orders"),
    ("nav.runs", "Job runs"),
    ("nav.lang_switch", "中文"),
    ("nav.mappings", "Mappings"),
    ("nav.audit", "Audit log"),
    ("nav.stock", "Stock"),
    ("stock.title", "Stock sync"),
    (
        "stock.held_callout",
        "A sync is held by the zero-drop guard: check it, then let it through with stock release",
    ),
    ("stock.since", "Export since"),
    ("stock.runs", "Sync runs"),
    ("stock.state", "State"),
    ("stock.read", "SKUs read"),
    ("stock.changed", "Changed"),
    ("stock.sent", "Sent"),
    ("stock.drops", "Drops to 0"),
    ("stock.items", "Per SKU"),
    ("stock.dsco_before", "DSCO before"),
    ("stock.lx_available", "LingXing available"),
    ("stock.reserve", "Reserve"),
    ("stock.to_send", "To send"),
    ("stock.diff", "Diff"),
    ("stock.outcome", "Outcome"),
    (
        "stock.more",
        "Only the first 500 are shown (export the CSV for all)",
    ),
    ("nav.config", "Config"),
    ("config.title", "Runtime config"),
    ("config.size", "Size"),
    ("config.settings", "Settings"),
    ("config.next_fires", "Next three fires"),
    ("config.versions", "Versions"),
    ("config.version", "Version"),
    ("config.from", "From"),
    ("config.to", "To"),
    ("config.diff", "Compare"),
    ("config.no_changes", "The two versions are the same."),
    (
        "config.json",
        "The whole config (JSON, without mapping.sku)",
    ),
    ("mappings.title", "Mappings"),
    ("mappings.entries", "entries"),
    ("mappings.lingxing_sku", "LingXing SKU"),
    ("mappings.source", "Source"),
    ("mappings.more", "more not shown (filter by SKU)"),
    (
        "mappings.conflicts",
        "SKU-pair conflicts of the last pull_sku_pair",
    ),
    (
        "mappings.changes",
        "Who changed the config and mappings, when",
    ),
    ("mappings.shop", "DSCO retailer → LingXing store_id"),
    ("mappings.warehouse", "DSCO warehouse code → LingXing wid"),
    (
        "mappings.shipment",
        "warehouse-service level → LingXing logistics_type_id",
    ),
    ("mappings.carrier", "service level → carrier sent to DSCO"),
    ("mappings.from", "DSCO"),
    ("mappings.to", "LingXing"),
    ("audit.title", "Audit log"),
    ("audit.at", "At"),
    ("audit.actor", "Actor"),
    ("audit.action", "Action"),
    ("audit.target", "Target"),
    ("audit.reason", "Reason"),
    ("nav.alerts", "Alerts"),
    ("alerts.title", "Alerts"),
    ("overview.open_alerts", "Open alerts"),
    (
        "alerts.intro",
        "One alert per problem; a resolved message when it clears. Each channel's deliveries, attempts and the bot's answer are below.",
    ),
    ("alerts.open_title", "Open alerts"),
    ("alerts.resolved_title", "Resolved"),
    ("alerts.severity", "Severity"),
    ("alerts.what", "Problem"),
    ("alerts.opened", "Opened"),
    ("alerts.resolved_at", "Resolved"),
    ("alerts.deliveries", "Deliveries"),
    (
        "alerts.no_deliveries",
        "No deliveries yet (without [[alerts]] channels alerts are only kept here)",
    ),
    ("alerts.channel", "Channel"),
    ("alerts.alert", "Alert"),
    ("alerts.state", "State"),
    ("alerts.attempts", "Attempts"),
    ("alerts.answer", "Answer"),
    ("alerts.at", "At"),
    ("nav.reconcile", "Reconciliation"),
    ("reconcile.title", "Reconciliation"),
    (
        "reconcile.intro",
        "The reconcile job and command compare the service with DSCO and LingXing: behind (a far side moved on; the order is marked for its job, which advances it by the normal rules), ahead (a write the service recorded that the far side does not show), diverged (needs a person).",
    ),
    ("reconcile.all", "All"),
    ("reconcile.open", "open"),
    ("reconcile.none", "No findings."),
    ("reconcile.po", "PO"),
    ("reconcile.kind", "Kind"),
    ("reconcile.finding", "Finding"),
    ("reconcile.todo", "What to do"),
    ("reconcile.found", "Found"),
    ("reconcile.seen", "last seen"),
    ("reconcile.resolved", "Resolved"),
    ("reconcile.still_open", "open"),
    ("reconcile.order_title", "Reconciliation findings"),
    ("reconcile.all_findings", "All reconciliation findings"),
    ("alerts.open", "opened"),
    ("alerts.resolved", "resolved"),
    ("alerts.pending", "pending retry"),
    ("alerts.delivered", "delivered"),
    ("alerts.failed", "failed"),
    ("alerts.skipped", "not sent"),
    ("common.times_in", "Times shown in "),
    ("common.none", "none"),
    ("common.yes", "yes"),
    ("common.no", "no"),
    ("common.count", "Count"),
    ("common.oldest", "Oldest"),
    ("common.stage", "Stage"),
    ("common.reason", "Reason"),
    ("common.kind", "Kind"),
    ("common.details", "Details"),
    ("common.view", "View"),
    ("common.not_found", "Not found"),
    ("common.error", "Something went wrong"),
    ("act.refused", "Action refused"),
    (
        "act.csrf",
        "The form has expired or was not sent from this console (missing or wrong CSRF token). Reload the page and try again; nothing was done.",
    ),
    ("act.viewer", "Viewers cannot act; nothing was done."),
    (
        "act.viewer_page",
        "Viewers can look but not act here; ask an admin to do it.",
    ),
    (
        "act.too_large",
        "The form is too large (1 MiB at most); nothing was done.",
    ),
    ("act.bad_form", "A form field cannot be read"),
    (
        "act.no_reason",
        "Say why (it is kept in the audit log); nothing was done.",
    ),
    ("login.title", "Log in"),
    ("login.name", "User name"),
    ("login.password", "Password"),
    ("login.submit", "Log in"),
    ("login.logout", "Log out"),
    ("login.viewer", "read only"),
    (
        "login.hint",
        "Users are set in the deployment file's [[console.users]]; make a password hash with dsco-lingxing console hash-password.",
    ),
    ("login.wrong", "Wrong user name or password."),
    (
        "login.limited",
        "Too many failed attempts (10 in 15 minutes): try again in 15 minutes. The password of this attempt was not checked.",
    ),
    (
        "login.ended",
        "Your session ended (idle too long, or logged out): log in again.",
    ),
    ("login.required", "Log in first; nothing was done."),
    (
        "writes.banner",
        "All writes are stopped: nothing is written to DSCO or LingXing (the jobs still run, reading and deciding only).",
    ),
    ("writes.resume", "Resume writes"),
    ("writes.stop", "Stop all writes"),
    ("writes.reason", "Reason (required)"),
    ("common.back_overview", "Back to the overview"),
    ("kind.waiting", "waiting"),
    ("kind.needs_attention", "needs attention"),
    ("kind.retrying", "retrying"),
    ("kind.held", "held"),
    ("kind.stuck", "stuck"),
    ("overview.title", "Overview"),
    ("overview.stages", "Orders per stage"),
    ("overview.attention", "Needs attention, by cause"),
    (
        "overview.in_sync",
        "Everything is in sync: nothing needs attention, is held, retrying or stuck.",
    ),
    ("overview.jobs", "Jobs"),
    ("overview.writes_on", "Writes enabled"),
    (
        "overview.writes_off",
        "Writes disabled: nothing is written to DSCO or LingXing",
    ),
    ("overview.config_version", "Runtime config version"),
    (
        "overview.no_config",
        "No runtime config: import one with config import",
    ),
    ("overview.cause", "Cause"),
    ("overview.orders", "Orders"),
    (
        "overview.stuck_hint",
        "not moved for longer than stuck_after_periods periods",
    ),
    ("job.name", "Job"),
    ("job.schedule", "Schedule"),
    ("job.last_run", "Last run"),
    ("job.outcome", "Outcome"),
    ("job.counts", "Processed / advanced / skipped / failed"),
    ("job.next_fire", "Next fire"),
    ("job.disabled", "disabled"),
    ("job.not_configured", "not configured"),
    ("job.never", "never ran"),
    ("orders.title", "Orders"),
    ("orders.filter", "Filter"),
    ("orders.search_po", "PO number (exact match opens it)"),
    ("orders.any", "any"),
    ("orders.reason_code", "Reason code"),
    ("orders.subject", "Reason subject"),
    ("orders.retailer", "Retailer"),
    ("orders.warehouse", "Warehouse"),
    ("orders.sku", "SKU"),
    ("orders.tracking", "Tracking number"),
    ("orders.lx_order", "LingXing order no."),
    ("orders.created_from", "DSCO created from"),
    ("orders.created_to", "DSCO created to"),
    ("orders.updated_from", "DSCO updated from"),
    ("orders.updated_to", "DSCO updated to"),
    ("orders.sort", "Sort"),
    ("orders.oldest_first", "oldest first"),
    ("orders.newest_first", "newest first"),
    ("orders.apply", "Filter"),
    ("orders.reset", "Clear"),
    ("orders.export_csv", "Export CSV"),
    ("orders.next_page", "Next page →"),
    ("orders.first_page", "← First page"),
    ("orders.empty", "No orders match."),
    ("orders.po", "PO"),
    ("orders.in_stage_since", "In stage since"),
    ("orders.age", "Age"),
    ("orders.dsco_created", "DSCO created"),
    ("orders.skus", "Lines (SKU×qty)"),
    ("order.title", "Order"),
    ("order.since", "In this stage since"),
    ("order.no_reason", "No open reason."),
    (
        "order.stuck",
        "Stuck: longer than the threshold at this stage",
    ),
    ("order.next_attempt", "Next attempt"),
    ("order.attempts", "attempts"),
    ("order.flags", "Flags"),
    ("order.timeline", "Timeline (newest first)"),
    ("order.dsco", "DSCO"),
    ("order.dsco_status", "Status"),
    ("order.lifecycle", "Lifecycle"),
    ("order.service_level", "Service level"),
    ("order.ship_to", "Ship to"),
    ("order.lines", "Lines"),
    ("order.line", "Line"),
    ("order.quantity", "Qty"),
    ("order.title_col", "Title"),
    ("order.raw_payload", "DSCO payload as received"),
    ("order.download", "Download JSON"),
    ("order.lingxing", "LingXing"),
    ("order.lx_orders", "LingXing orders"),
    ("order.lx_status", "Status"),
    ("order.write_key", "Key (PO / tracking)"),
    ("order.outbounds", "Outbound orders"),
    ("order.wo", "Outbound no."),
    ("order.carrier", "Carrier"),
    ("order.shipped_at", "Shipped at"),
    ("order.sent_to_dsco", "Sent to DSCO"),
    ("order.confirmed", "Confirmed"),
    ("order.writes", "Writes"),
    ("order.invoice", "Invoice"),
    ("order.requests", "DSCO async requests"),
    ("order.request_id", "requestId"),
    ("order.pending", "pending"),
    ("order.done", "done"),
    ("order.checked_lx", "LingXing read at"),
    ("order.store", "LingXing store"),
    ("tl.event", "Event"),
    ("tl.write", "Write"),
    ("tl.request", "DSCO request"),
    ("tl.operator", "Operator"),
    ("tl.times", "times, first"),
    ("outcome.pulled", "pulled"),
    ("outcome.advanced", "advanced"),
    ("outcome.skipped", "skipped"),
    ("outcome.submitted", "submitted"),
    ("outcome.noted", "noted"),
    ("outcome.operator", "operator"),
    ("runs.title", "Job runs"),
    ("runs.job", "Job"),
    ("runs.all_jobs", "all jobs"),
    ("runs.started", "Started"),
    ("runs.duration", "Duration"),
    ("runs.trigger", "Trigger"),
    ("runs.outcome", "Outcome"),
    ("runs.processed", "Processed"),
    ("runs.advanced", "Advanced"),
    ("runs.waiting", "Waiting"),
    ("runs.attention", "Attention"),
    ("runs.retrying", "Retrying"),
    ("runs.held", "Held"),
    ("runs.failed", "Failed"),
    (
        "runs.rejected",
        "Rejected fires (the job was already running)",
    ),
    ("runs.blocking", "Blocking run"),
    ("runs.repeats", "Repeats"),
    ("runs.empty", "No runs yet."),
    ("run.title", "Run"),
    ("run.what_it_did", "What it did to orders"),
    ("run.error", "Error"),
    ("run.detail", "Run detail"),
    ("run.dry_run", "dry run (nothing written)"),
    ("run.only_po", "Only PO"),
    ("run.holder", "Holder"),
    ("run.config_version", "Config version"),
    ("run.no_events", "This run recorded no order events."),
    // --- operator actions (issue 16) ---
    ("ops.refused", "Action not done"),
    ("ops.reason", "Reason (required, kept in the audit log)"),
    ("ops.reason_hint", "Why?"),
    (
        "ops.no_engine",
        "This process has no engine to run jobs: retry without “run now”.",
    ),
    ("ops.back_order", "Back to order"),
    ("ops.back_list", "Back to the order list"),
    ("ops.retry", "Retry"),
    ("ops.retry_title", "Retry now"),
    ("ops.run_now", "Run the stage's job for this PO now"),
    (
        "ops.retried_next",
        "back-off cleared; decided at the next run of",
    ),
    ("ops.run", "run"),
    ("ops.advanced", "advanced"),
    ("ops.skipped", "skipped"),
    ("ops.failed", "failed"),
    (
        "ops.run_rejected",
        "The job is running already: the order is decided by that run or the next",
    ),
    ("ops.now_at", "Now"),
    ("ops.retry_all", "Retry all"),
    ("ops.retry_all_title", "Retry all matching orders"),
    ("ops.filter", "Filter"),
    (
        "ops.will_retry",
        "order(s) will be retried (done and cancelled ones left out), each at the next run of its stage's job.",
    ),
    ("ops.none_match", "No order to retry."),
    ("ops.over_limit", "More orders match than the limit of"),
    ("ops.narrow", "narrow the filter."),
    (
        "ops.retried_n",
        "order(s) retried; each is decided at the next run of its stage's job.",
    ),
    ("ops.ignore", "Ignore"),
    ("ops.unignore", "Un-ignore"),
    ("ops.ignore_title", "Ignore the order"),
    ("ops.unignore_title", "Un-ignore the order"),
    (
        "ops.ignore_hint",
        "Out of needs attention, stage unchanged; still listed under the “ignored” filter.",
    ),
    (
        "ops.is_ignored",
        "This order is ignored: not counted as needing attention.",
    ),
    (
        "ops.ignored_done",
        "ignored: out of needs attention, stage unchanged.",
    ),
    ("ops.unignored_done", "un-ignored: back in needs attention."),
    ("ops.ignored_already", "already ignored; nothing written."),
    ("ops.unignored_already", "was not ignored; nothing written."),
    ("ops.ignored", "Ignored"),
    ("ops.ignored_badge", "Ignored"),
    (
        "ops.ignored_default",
        "Default (hidden under needs attention)",
    ),
    ("ops.ignored_only", "Only ignored"),
    ("ops.ignored_hide", "Hide ignored"),
    ("ops.ignored_any", "Any"),
    ("ops.force_title", "Force stage"),
    (
        "ops.force_hint",
        "Only forward, or to 6 cancelled; the next step shows what the jobs will and will not do.",
    ),
    ("ops.force_to", "Force to stage"),
    ("ops.force_next", "Next: confirm"),
    ("ops.fix", "Fix the cause"),
    ("ops.fix_title", "Fix the cause: add the mapping"),
    (
        "ops.fix_submit",
        "Save the mapping and retry the orders waiting on it",
    ),
    ("ops.key", "Key (DSCO side)"),
    ("ops.lingxing_value", "LingXing value"),
    ("ops.waiting_on_it", "order(s) wait on this entry:"),
    ("ops.saved_version", "saved as version"),
    ("ops.unchanged", "already this value, no new version"),
    ("ops.see_orders", "See these orders"),
    ("ops.set_entry", "Set one mapping entry"),
    ("ops.set_next", "Next"),
    ("ops.set_manual", "Set manually"),
    ("ops.mapping", "Mapping"),
    ("ops.release", "Release"),
    ("ops.release_title", "Release the stock guard"),
    (
        "ops.release_reason",
        "Why the drop to 0 is genuine (required)",
    ),
    (
        "ops.released",
        "held run(s) released; the next sync_stock run sends",
    ),
    (
        "ops.nothing_held",
        "No held sync_stock run: nothing to release.",
    ),
    ("mappings.sku", "DSCO SKU → LingXing SKU (a manual entry)"),
    // Run a job (issue 16 action 5)
    ("runjob.title", "Run a job"),
    (
        "runjob.intro",
        "Run a job now, for everything or for one PO. A dry run builds the requests it would send and shows them; it writes nothing to DSCO or LingXing and moves no order.",
    ),
    ("runjob.po", "Only this PO (optional)"),
    (
        "runjob.po_hint",
        "The order must be at the stage the job handles.",
    ),
    (
        "runjob.dry_run",
        "Dry run: show the requests, write nothing",
    ),
    (
        "runjob.reason_hint",
        "Why run it by hand? (kept in the audit log)",
    ),
    ("runjob.submit", "Run"),
    ("runjob.cancel", "Cancel"),
    (
        "runjob.running",
        "The job is running, so this run was refused (recorded as a rejected fire); try again when it ends. Blocking run",
    ),
    (
        "runjob.unavailable",
        "This console process runs no jobs: actions are unavailable.",
    ),
    ("runjob.link", "Run a job"),
    ("runjob.for_po", "Run a job for this PO"),
    (
        "run.dry_callout",
        "Dry run: nothing was written to DSCO or LingXing and no order moved. Below are the requests it would send.",
    ),
    ("run.decisions", "Decisions per order"),
    ("run.requests", "Requests"),
    ("run.req_sent", "sent"),
    ("run.req_not_sent", "not sent"),
    ("run.req_orders", "order(s)"),
    ("run.decision", "Decision"),
    ("run.left_out", "more not kept"),
    ("run.again_real", "Run it for real"),
    ("outcome.dry_run", "dry run"),
    ("run_outcome.running", "running"),
    ("run_outcome.succeeded", "succeeded"),
    ("run_outcome.failed", "failed"),
    ("run_outcome.timed_out", "timed out"),
    ("run_outcome.lease_lost", "lease lost"),
    ("run_outcome.cancelled", "cancelled"),
    ("trigger.cron", "cron"),
    ("trigger.manual", "manual (console)"),
    ("trigger.cli", "CLI"),
    ("intent_state.pending", "pending"),
    ("intent_state.submitted", "submitted"),
    ("intent_state.ambiguous", "ambiguous"),
    ("intent_state.confirmed", "confirmed"),
    ("intent_state.failed", "failed"),
    // Edit the runtime config (issue 16 action 7)
    ("cfgedit.link", "Edit"),
    ("cfgedit.title", "Edit the runtime config"),
    (
        "cfgedit.intro",
        "Every edit first shows its diff against the running version; once confirmed it is saved as a new version (the scheduler reloads it) and audited. Validation is config check's; a refused edit writes nothing and the running config stays.",
    ),
    ("cfgedit.not_configured", "not configured"),
    ("cfgedit.enable", "enabled"),
    ("cfgedit.setting", "Other setting"),
    ("cfgedit.value", "Value"),
    ("cfgedit.preview", "Preview the diff"),
    (
        "cfgedit.mappings",
        "Mappings (add, change, remove an entry)",
    ),
    ("cfgedit.mapping", "Mapping"),
    ("cfgedit.key", "Key"),
    ("cfgedit.empty_removes", "Leave it empty to remove the key."),
    ("cfgedit.any", "Any setting (by key path)"),
    (
        "cfgedit.key_hint",
        "As config set takes it: writes_enabled, jobs.<job>.<setting>, mapping.<name>.<key>",
    ),
    ("cfgedit.confirm_title", "Confirm the config change"),
    ("cfgedit.confirm_intro", "Not saved yet. Edit:"),
    ("cfgedit.running", "running version"),
    ("cfgedit.diff", "Diff"),
    ("cfgedit.old", "Old"),
    ("cfgedit.new", "New"),
    (
        "cfgedit.reason_hint",
        "Why? (kept in the config history and the audit log)",
    ),
    ("cfgedit.save", "Save as a new version"),
    ("cfgedit.refused", "Edit refused, nothing was written:"),
    ("cfgedit.saved", "Saved as version"),
    ("cfgedit.rollback", "Roll back to this"),
];

/// The labels of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Tr {
        Tr { lang }
    }

    /// The label of a job run's outcome (`succeeded`, `timed_out`, …); the outcome itself when
    /// the catalogue lacks it.
    pub fn run_outcome<'a>(&self, outcome: &'a str) -> &'a str {
        self.value("run_outcome", outcome)
    }

    /// The label of what started a run (`cron`, `manual`, `cli`).
    pub fn trigger<'a>(&self, trigger: &'a str) -> &'a str {
        self.value("trigger", trigger)
    }

    /// The label of a write's state (`pending`, `confirmed`, …).
    pub fn intent_state<'a>(&self, state: &'a str) -> &'a str {
        self.value("intent_state", state)
    }

    /// The label of the stored word `value` under `prefix.`; the word itself when missing.
    fn value<'a>(&self, prefix: &str, value: &'a str) -> &'a str {
        let key = format!("{prefix}.{value}");
        let cat = match self.lang {
            Lang::Zh => ZH,
            Lang::En => EN,
        };
        cat.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or(value)
    }

    /// The label for `key`; the key itself when missing (the catalogue test keeps that from
    /// happening).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        let cat = match self.lang {
            Lang::Zh => ZH,
            Lang::En => EN,
        };
        cat.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or(key)
    }

    /// `zh-CN` or `en`, for `<html lang>` and the cookie.
    pub fn code(&self) -> &'static str {
        lang_code(self.lang)
    }
}

pub fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "zh-CN",
        Lang::En => "en",
    }
}

pub fn parse_lang(s: &str) -> Option<Lang> {
    match s.trim().to_ascii_lowercase().as_str() {
        "zh-cn" | "zh" => Some(Lang::Zh),
        "en" => Some(Lang::En),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(c: Catalogue) -> BTreeSet<&'static str> {
        let mut out = BTreeSet::new();
        for (k, v) in c {
            assert!(out.insert(*k), "duplicate key {k}");
            assert!(!v.trim().is_empty(), "empty text for {k}");
        }
        out
    }

    #[test]
    fn both_languages_have_every_key() {
        let zh = keys(ZH);
        let en = keys(EN);
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty(), "missing in English: {only_zh:?}");
        assert!(only_en.is_empty(), "missing in Chinese: {only_en:?}");
    }

    /// A run's outcome badge reads in the page's language (not the stored word).
    #[test]
    fn every_run_outcome_trigger_and_write_state_has_a_label_in_both_languages() {
        use domain::Trigger;
        for o in domain::RunOutcome::ALL {
            let zh = Tr::new(Lang::Zh).run_outcome(o.as_str());
            let en = Tr::new(Lang::En).run_outcome(o.as_str());
            assert!(!zh.is_ascii(), "{o}: {zh}");
            assert!(en.is_ascii() && !en.contains('_'), "{o}: {en}");
        }
        for i in domain::intent::IntentState::ALL {
            let zh = Tr::new(Lang::Zh).intent_state(i.as_str());
            assert!(!zh.is_ascii(), "{i:?}: {zh}");
        }
        for t in [Trigger::Cron, Trigger::Manual, Trigger::Cli] {
            let zh = Tr::new(Lang::Zh).trigger(t.as_str());
            assert!(!zh.is_ascii(), "{t:?}: {zh}");
            assert!(Tr::new(Lang::En).trigger(t.as_str()).is_ascii());
        }
    }

    /// Every `t("key")` the templates and the Rust code use is in the catalogue.
    #[test]
    fn every_key_used_is_in_the_catalogue() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = BTreeSet::new();
        let mut files = Vec::new();
        let mut dirs = vec![dir.join("templates"), dir.join("src")];
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        for path in files {
            let text = std::fs::read_to_string(path).unwrap();
            for part in text.split("t(\"").skip(1) {
                if let Some(end) = part.find('"') {
                    let key = &part[..end];
                    if key.contains('.') && !key.contains(' ') {
                        used.insert(key.to_owned());
                    }
                }
            }
        }
        assert!(used.len() > 50, "the scan found the keys ({})", used.len());
        let zh = keys(ZH);
        let missing: Vec<_> = used.iter().filter(|k| !zh.contains(k.as_str())).collect();
        assert!(
            missing.is_empty(),
            "keys used but not in the catalogue: {missing:?}"
        );
    }

    /// The keys built at run time: reason kinds and event outcomes.
    #[test]
    fn built_keys_are_in_both_catalogues() {
        let mut built: Vec<String> = domain::ReasonKind::ALL
            .iter()
            .map(|k| format!("kind.{}", k.as_str()))
            .collect();
        built.extend(
            store::EventOutcome::ALL
                .iter()
                .map(|o| format!("outcome.{}", o.as_str())),
        );
        for cat in [ZH, EN] {
            for k in &built {
                assert!(cat.iter().any(|(c, _)| c == k), "{k}");
            }
        }
    }

    #[test]
    fn chinese_labels_are_chinese() {
        let tr = Tr::new(Lang::Zh);
        assert_eq!(tr.t("nav.orders"), "订单");
        assert_eq!(Tr::new(Lang::En).t("nav.orders"), "Orders");
        assert_eq!(tr.t("missing-key"), "missing-key");
    }
}
