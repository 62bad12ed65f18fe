"""WinoGrande's partial scoring, as lm-eval's own ``lm_eval/tasks/winogrande/preprocess_winogrande.py``
(MIT, EleutherAI): the "text" is the index of the right context, the choices are the two contexts
(the sentence up to the blank with each option filled in), the target is the rest of the sentence."""


def doc_to_text(doc):
    answer_to_num = {"1": 0, "2": 1}
    return answer_to_num[doc["answer"]]


def doc_to_target(doc):
    idx = doc["sentence"].index("_") + 1
    return doc["sentence"][idx:].strip()


def doc_to_choice(doc):
    idx = doc["sentence"].index("_")
    options = [doc["option1"], doc["option2"]]
    return [doc["sentence"][:idx] + opt for opt in options]
