from cdp.steps import DbtStage, PythonStep, build_plan


def step(name: str, reads: tuple[str, ...] | None = None) -> PythonStep:
    reads = (f"model_read_by_{name}",) if reads is None else reads
    return PythonStep(name=name, output_source=f"cdp_{name}", reads=reads, run=lambda context: None)


def test_without_python_steps_the_plan_is_one_dbt_build():
    assert build_plan(()) == [DbtStage(select=None, exclude=None)]


def test_each_dbt_stage_builds_what_the_previous_step_feeds_and_no_later_step_does():
    linkage, fit = step("linkage"), step("fit")
    assert build_plan((linkage, fit)) == [
        DbtStage(select=None, exclude="source:cdp_linkage+ source:cdp_fit+"),
        linkage,
        DbtStage(select="source:cdp_linkage+", exclude="source:cdp_fit+"),
        fit,
        DbtStage(select="source:cdp_fit+", exclude=None),
    ]


def test_a_step_that_reads_no_model_runs_before_dbt_and_splits_no_stage():
    tables, fit = step("tables", reads=()), step("fit")
    assert build_plan((fit, tables)) == [
        tables,
        DbtStage(select=None, exclude="source:cdp_fit+"),
        fit,
        DbtStage(select="source:cdp_fit+", exclude=None),
    ]


def test_tests_run_once_all_their_parents_exist():
    assert DbtStage(select="source:cdp_fit+", exclude=None).arguments() == [
        "--indirect-selection",
        "buildable",
        "--select",
        "source:cdp_fit+",
    ]
