"""The code-augmented step format: prompts, parsing, step records."""

from thinktree.steps.parse import ParsedStep, parse_step
from thinktree.steps.prompt import (
    CELL_PRELUDE,
    OUTPUT_MARKER,
    STOP_STRINGS,
    PromptStyle,
    RenderChat,
    StepPrompt,
    build_step_prompt,
    format_output,
    prompt_style,
    solution_text,
    user_message,
)
from thinktree.steps.render import code_step_text, final_step_text
from thinktree.steps.step import (
    Step,
    StepKind,
    consecutive_errors,
    dedupe_key,
    end_reason,
    executed_cells,
    steps_text,
)

__all__ = [
    "CELL_PRELUDE",
    "OUTPUT_MARKER",
    "STOP_STRINGS",
    "ParsedStep",
    "PromptStyle",
    "RenderChat",
    "Step",
    "StepKind",
    "StepPrompt",
    "build_step_prompt",
    "code_step_text",
    "consecutive_errors",
    "dedupe_key",
    "end_reason",
    "executed_cells",
    "final_step_text",
    "format_output",
    "parse_step",
    "prompt_style",
    "solution_text",
    "steps_text",
    "user_message",
]
