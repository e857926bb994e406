/*
 * edgekit kernels: which optional paths the optimized families compile. This copy compiles them all
 * (the host tests build the kernels from this folder). The generator writes its own copy into each
 * engine folder (edgekit/codegen/engine.py kernel_config), with 0 for a path none of the model's
 * layers takes, so that the firmware carries no code it cannot run.
 */
#ifndef EK_CONFIG_H
#define EK_CONFIG_H

/* DEPTHWISE_CONV_2D shapes the Arm DSP fast path does not take (EK_DW_FAST). */
#define EK_DW_OTHER_SHAPES 1
/* AVERAGE_POOL_2D layers the optimized kernels do not take: windows of more than 256 elements, and on
 * the Arm DSP channel counts that are not a multiple of 4. */
#define EK_POOL_OTHER_SHAPES 1

#endif /* EK_CONFIG_H */
