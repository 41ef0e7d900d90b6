"""Drafting rules on a table of realistic citizen transcripts (SPEC R4.3, 第九条)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.drafting import CATEGORIES, classify, detect_emergency, draft_order
from recordings.units import UnitCatalogue

UNITS = UnitCatalogue.from_file(Path(__file__).parent / "data" / "member-units.json")

# id, citizen transcript, expected draft.
#   cat: category; unit: suggested member unit; loc: location unit (district / street);
#   phones / addrs: exact lists; emerg: 110/119/120/水上救援; flags: 第九条 codes;
#   summary: a phrase the summary must contain.
CASES: list[tuple[str, str, dict]] = [
    ("noise_construction",
     "喂你好。我要投诉武进区湖塘镇聚湖东路那个工地。晚上十二点了还在打桩。吵得根本睡不着。我电话13912345678",
     dict(cat="投诉", unit="CZ-ZJJ", loc="CZ-WJ-HT", phones=["13912345678"],
          addrs=["武进区湖塘镇聚湖东路"], summary="还在打桩")),
    ("bbq_smoke",
     "你好。我家住在天宁区红梅新村12栋。楼下烧烤店油烟太大了。窗户都不敢开。已经好几次了没人管",
     dict(cat="投诉", unit="CZ-CGJ", loc="CZ-TN-HM", addrs=["天宁区红梅新村12栋"],
          summary="烧烤店油烟太大")),
    ("property_fee", "我想咨询一下。小区物业费涨价要不要业主同意。我们是钟楼区西林街道的",
     dict(cat="咨询", unit="CZ-ZJJ", loc="CZ-ZL-XL", summary="物业费涨价")),
    ("hukou", "请问新生儿上户口需要什么材料。在哪里办",
     dict(cat="咨询", unit="CZ-GAJ", summary="新生儿上户口")),
    ("social_security", "你好我想问一下。社保断缴了三个月。对退休有没有影响",
     dict(cat="咨询", unit="CZ-RSJ", summary="社保断缴")),
    ("wage_arrears", "我们厂老板拖欠工资三个月了。一共二十几个人。在新北区薛家镇。我要投诉",
     dict(cat="投诉", unit="CZ-RSJ", loc="CZ-XB-XJ", summary="拖欠工资")),
    ("illegal_discharge", "我要举报。新北区罗溪那边有个化工厂晚上偷排污水。河水发黑还有死鱼",
     dict(cat="举报", unit="CZ-STHJ", loc="CZ-XB", summary="偷排污水")),
    ("black_clinic", "我想举报一个黑诊所。就在戚墅堰老街。没有执照给人挂水",
     dict(cat="举报", unit="CZ-WJW", loc="CZ-JKQ-QSY", addrs=["戚墅堰老街"], summary="黑诊所")),
    ("water_outage",
     "喂。我们这边停水了一整天了。钟楼区五星街道勤业新村。家里有老人。能不能帮忙问一下什么时候来水",
     dict(cat="求助", unit="CZ-ZLS", loc="CZ-ZL-WX", addrs=["钟楼区五星街道勤业新村"],
          summary="停水")),
    ("power_trip",
     "家里突然停电了。整栋楼都没电。金坛区东城街道金沙苑3幢。冰箱里东西要坏了。怎么办",
     dict(cat="求助", unit="CZ-GDGS", loc="CZ-JT-DC", addrs=["金坛区东城街道金沙苑3幢"],
          summary="停电")),
    ("bus_suggestion", "我建议增设一条公交线路到常州北站。现在去高铁站要换乘两次太不方便",
     dict(cat="建议", unit="CZ-GJJT", loc="CZ-XB", summary="增设一条公交线路")),
    ("subway_suggestion", "希望地铁末班车能延长到晚上十一点。下夜班的人很多",
     dict(cat="建议", unit="CZ-DT", summary="末班车")),
    ("taxi_refusal", "我投诉一个出租车司机拒载。车牌号苏D12345。在常州站出站口",
     dict(cat="投诉", unit="CZ-JTJ", summary="拒载")),
    ("gas_leak", "快来人。我家厨房煤气泄漏了。味道很大。在天宁区兰陵新村5幢",
     dict(cat="求助", unit=None, loc="CZ-TN-LL", addrs=["天宁区兰陵新村5幢"], emerg="119",
          summary="煤气泄漏")),
    ("fire", "着火了着火了。钟楼区南大街一个商铺起火了。火很大",
     dict(cat="求助", unit=None, loc="CZ-ZL-NDJ", addrs=["钟楼区南大街"], emerg="119",
          summary="起火")),
    ("fainted", "我们小区门口有个老人晕倒了。叫不醒。快叫救护车",
     dict(cat="求助", unit=None, emerg="120", summary="晕倒")),
    ("robbery", "我刚才在延陵西路被人抢劫了。那个人拿刀跑了",
     dict(cat="求助", unit=None, loc="CZ-ZL-NDJ", addrs=["延陵西路"], emerg="110",
          summary="抢劫")),
    ("drowning", "有人掉河里了。在武进区西太湖边上。快来救人",
     dict(cat="求助", unit=None, loc="CZ-WJ-XH", emerg="水上救援", summary="掉河里")),
    ("out_of_area_wuxi", "我想投诉无锡的一个楼盘开发商。交房延期了半年",
     dict(cat="投诉", unit=None, flags=["out_of_jurisdiction"], summary="开发商")),
    ("out_of_area_shanghai", "请问上海的公积金怎么提取。我在上海缴的",
     dict(cat="咨询", unit=None, flags=["out_of_jurisdiction"], summary="公积金")),
    ("litigation", "我跟公司的劳动合同纠纷已经在法院起诉了。想让你们催一下法院",
     dict(cat="咨询", unit="CZ-RSJ", flags=["in_legal_proceedings"], summary="劳动合同")),
    ("arbitration", "我的欠薪案子已经申请仲裁了。仲裁委一直没结果",
     dict(cat="投诉", unit="CZ-RSJ", flags=["in_legal_proceedings"], summary="仲裁")),
    ("privacy", "我想查一下他的手机号码和住址。他欠我钱不还",
     dict(cat="咨询", unit=None, flags=["secret_or_privacy"], summary="手机号码")),
    ("insult", "你们这些狗官什么都不管。去死吧",
     dict(cat="咨询", unit=None, flags=["insulting"], summary="什么都不管")),
    ("not_specific", "喂。我要反映",
     dict(cat="咨询", unit=None, flags=["not_specific"], summary="反映")),
    ("medical_insurance_elsewhere_but_local",
     "我想咨询异地就医备案怎么办理。我在上海看病。医保是常州的",
     dict(cat="咨询", unit="CZ-YBJ", summary="异地就医备案")),
    ("school_enrollment", "你好。请问新北区的小学报名什么时候开始。积分入学需要什么条件",
     dict(cat="咨询", unit="CZ-JYJ", loc="CZ-XB", summary="小学报名")),
    ("elevator_install", "我们老小区想加装电梯。政府有没有补贴。在钟楼区清潭新村",
     dict(cat="咨询", unit="CZ-ZJJ", loc="CZ-ZL-WX", addrs=["钟楼区清潭新村"],
          summary="加装电梯")),
    ("dog_noise", "楼上邻居养狗天天叫。噪音扰民。跟他说了也不听。天宁区茶山街道翠竹新村",
     dict(cat="投诉", unit="CZ-GAJ", loc="CZ-TN-CS", addrs=["天宁区茶山街道翠竹新村"],
          summary="噪音扰民")),
    ("broadband_spoken_digits",
     "我家宽带断网三天了。报修了联通一直没人来。电话是 幺 三 八 零 零 幺 三 八 零 零 零",
     dict(cat="投诉", unit="CZ-LT", phones=["13800138000"], summary="断网")),
    ("streetlight", "新北区河海街道汉江路上的路灯坏了一排。晚上很黑。希望尽快修一下",
     dict(cat="求助", unit="CZ-CGJ", loc="CZ-XB-HH", addrs=["新北区河海街道汉江路"],
          summary="路灯坏了")),
    ("business_environment", "我要投诉政务服务中心窗口办事效率太低。营业执照跑了三次都没办下来",
     dict(cat="投诉", unit="CZ-ZWB", summary="窗口办事效率")),
    ("expired_food", "我在超市买到了过期食品。商家不给退。我要举报他们卖过期食品",
     dict(cat="举报", unit="CZ-SCJG", summary="过期食品")),
    ("vosk_spaced_words",
     "你好 我 想 投诉 一下 我们 小区 的 物业 电梯 坏 了 一个 月 都 没 人 修 "
     "在 武进区 湖塘镇 锦绣江南",
     dict(cat="投诉", unit="CZ-ZJJ", loc="CZ-WJ-HT", summary="物业电梯坏了")),
    ("fire_hazard_is_not_an_emergency",
     "我要反映我们楼道里有人飞线充电。楼道充电有火灾隐患。在潞城街道丁香苑",
     dict(cat="投诉", unit="CZ-XFZD", loc="CZ-JKQ-LC", addrs=["潞城街道丁香苑"],
          summary="飞线充电")),
    ("landline", "我想咨询公积金贷款额度。我的电话是0519-86661234",
     dict(cat="咨询", unit="CZ-GJJ", phones=["051986661234"], summary="公积金贷款")),
]


def test_table_covers_every_category_emergency_and_flag() -> None:
    assert len(CASES) >= 30
    assert {c[2]["cat"] for c in CASES} == set(CATEGORIES)
    assert {c[2].get("emerg") for c in CASES} >= {"110", "119", "120", "水上救援"}
    flags = {f for c in CASES for f in c[2].get("flags", [])}
    assert flags >= {"out_of_jurisdiction", "in_legal_proceedings", "secret_or_privacy",
                     "insulting", "not_specific"}


@pytest.mark.parametrize("text,want", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_draft(text: str, want: dict) -> None:
    draft = draft_order(text, UNITS)
    assert draft.category == want["cat"]
    assert draft.suggested_unit == want["unit"]
    assert draft.location_unit == want.get("loc")
    assert list(draft.phones) == want.get("phones", [])
    assert list(draft.addresses) == want.get("addrs", [])
    emerg = want.get("emerg")
    assert (draft.emergency.service if draft.emergency else None) == emerg
    assert [f.code for f in draft.non_acceptance] == want.get("flags", [])
    assert want["summary"] in draft.summary
    assert 0 < len(draft.summary) <= 60
    assert draft.acceptable == (emerg is None and not want.get("flags"))
    as_dict = draft.to_dict()
    assert as_dict["category"] == want["cat"]
    if emerg:
        assert as_dict["emergency"]["clause"] == "第九条(五)"


def test_explicit_report_outranks_consultation() -> None:
    assert classify("我想咨询一下，隔壁厂偷偷排污水，我要举报")[0] == "举报"


def test_default_category_is_consultation() -> None:
    assert classify("政府有没有补贴") == ("咨询", ())


def test_fire_hazard_words_are_not_emergencies() -> None:
    assert detect_emergency("消防通道堵了，有火灾隐患") is None
    assert detect_emergency("楼下着火了") is not None


def test_summary_is_capped() -> None:
    text = "我要投诉" + "小区物业不管事" * 20
    assert len(draft_order(text, UNITS).summary) == 60
