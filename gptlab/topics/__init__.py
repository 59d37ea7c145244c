"""The models of the later lessons, each built on gptlab.nn and the engines, never the other way round:
`finetune` (lesson 10), `seq2seq` (lesson 11), `vision` (lesson 13), `interpret` (lesson 09)."""
