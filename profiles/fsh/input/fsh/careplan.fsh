// What the service sends: the exercise and pain CarePlan (src/fhir_bonemet/fhir/outbound/careplan.py) with
// its contained Goals (careplan_parts.py), the referral ServiceRequests (referrals.py) and the draft
// MedicationRequests it hands back annotated in an order-select/order-sign update action
// (src/fhir_bonemet/cards/suggestions.py).

ValueSet: BonemetCarePlanCategories
Id: bonemet-careplan-categories
Title: "fhir-bonemet CarePlan categories"
Description: "The two halves of the plan the service writes."
* $bonemet#bm-exercise "Bone-metastasis exercise plan"
* $bonemet#bm-pain "Bone-metastasis pain plan"

ValueSet: BonemetCarePlanActivities
Id: bonemet-careplan-activities
Title: "fhir-bonemet CarePlan activities"
Description: "Exercise domains (clinical-rules §5.4), the stop-and-call criteria and the pain-plan activities."
* $bonemet#ex-aerobic-wb "Weight-bearing aerobic exercise"
* $bonemet#ex-aerobic-nwb "Non-weight-bearing aerobic exercise"
* $bonemet#ex-resist-upper "Resistance exercise, upper body"
* $bonemet#ex-resist-trunk "Resistance exercise, trunk"
* $bonemet#ex-resist-lower "Resistance exercise, lower body"
* $bonemet#ex-flex "Flexibility exercise"
* $bonemet#ex-balance "Balance training"
* $bonemet#ex-impact "Impact, high-velocity or contact exercise"
* $bonemet#ex-adl-only "Daily activities, transfers and mobility only"
* $bonemet#pain-diary "Pain diary"
* $bonemet#pain-reassessment "Pain reassessment"
* $bonemet#bowel-regimen "Bowel regimen while on an opioid"
* $bonemet#stop-and-call "Stop exercising and contact the care team"

ValueSet: BonemetPlanStatuses
Id: bonemet-plan-statuses
Title: "Statuses of a CarePlan written by fhir-bonemet"
Description: "active when a clinician accepted the card's create suggestion; draft when the service wrote it itself (write mode), until the card's update sets it active."
* http://hl7.org/fhir/request-status#active
* http://hl7.org/fhir/request-status#draft

ValueSet: BonemetActivityStatuses
Id: bonemet-activity-statuses
Title: "Statuses of a fhir-bonemet CarePlan activity"
Description: "scheduled, or on-hold while structured exercise is suspended (a red flag, a hold or ADL-only tier)."
* http://hl7.org/fhir/care-plan-activity-status#scheduled
* http://hl7.org/fhir/care-plan-activity-status#on-hold

Profile: BonemetPlanGoal
Parent: Goal
Id: bonemet-plan-goal
Title: "Goal of a fhir-bonemet CarePlan"
Description: "A Goal contained in the CarePlan (safety, function or pain), proposed until the care team accepts it, due at the next planned review."
* lifecycleStatus = #proposed
* category 1..1
* category from http://hl7.org/fhir/ValueSet/goal-category (required)
* description.text 1..1
* subject only Reference(Patient)
* start[x] 1..1
* start[x] only date
* target 1..*
* target.due[x] 1..1
* target.due[x] only date

Profile: BonemetExerciseCarePlan
Parent: CarePlan
Id: bonemet-exercise-careplan
Title: "fhir-bonemet exercise and pain CarePlan"
Description: "The plan the service proposes: one activity per exercise domain (avoided domains carry doNotPerform = true and no schedule; domains suspended by a red flag or a hold tier are on-hold), stop-and-call criteria, the pain diary and reassessment, and its Goals as contained resources so the plan is written by one conditional create. The identifier is a digest of the plan's content, so If-None-Exist makes creation idempotent."
* text 1..1
* identifier 1..1
* identifier.system 1..1
* identifier.system = "http://fhir-bonemet.org/fhir/NamingSystem/careplan" (exactly)
* identifier.value 1..1
* contained only BonemetPlanGoal
* status from BonemetPlanStatuses (required)
* intent = #plan
* category 1..*
* category from BonemetCarePlanCategories (required)
* title 1..1
* subject only Reference(Patient)
* period.start 1..1
* created 1..1
* addresses only Reference(Condition)
* supportingInfo only Reference(Observation)
* goal obeys bonemet-goal-contained
* activity 1..*
* activity.outcomeCodeableConcept 0..0
* activity.outcomeReference 0..0
* activity.progress 0..0
* activity.reference 0..0
* activity.detail 1..1
* activity.detail.code 1..1
* activity.detail.code from BonemetCarePlanActivities (required)
* activity.detail.status from BonemetActivityStatuses (required)
* activity.detail.description 1..1
* activity.detail.goal obeys bonemet-goal-contained
* note 1..*
* obeys bonemet-goals-resolve and bonemet-avoid-unscheduled and bonemet-activity-detail and bonemet-contained-goals

Invariant: bonemet-activity-detail
Description: "Every activity is a coded, described detail (no reference, progress or outcome): the element rules on activity.detail, stated at the root so that every validator evaluates them."
Expression: "activity.all(detail.code.exists() and detail.status.exists() and detail.description.exists() and reference.empty() and progress.empty() and outcomeReference.empty() and outcomeCodeableConcept.empty())"
Severity: #error

Invariant: bonemet-contained-goals
Description: "Contained resources are proposed Goals with one category, a description, a start date and a due date (BonemetPlanGoal), stated at the root so that every validator evaluates them."
Expression: "contained.ofType(Goal).count() = contained.count() and contained.ofType(Goal).all(lifecycleStatus = 'proposed' and category.count() = 1 and description.text.exists() and start.exists() and target.exists() and target.all(due.exists()))"
Severity: #error

Invariant: bonemet-goal-contained
Description: "Goals are referenced as contained resources (#id)."
Expression: "reference.startsWith('#')"
Severity: #error

Invariant: bonemet-avoid-unscheduled
Description: "An activity the patient must not perform (doNotPerform = true) has no schedule and no performer."
Expression: "activity.detail.where(doNotPerform = true).all(scheduled.empty() and performer.empty())"
Severity: #error

Invariant: bonemet-goals-resolve
Description: "Every goal reference (of the plan and of its activities) names a contained Goal."
Expression: "(goal | activity.detail.goal).reference.all(substring(1) in %resource.contained.ofType(Goal).id)"
Severity: #error

Instance: example-plan-goal-safety
InstanceOf: BonemetPlanGoal
Usage: #inline
* id = "goal-safety"
* lifecycleStatus = #proposed
* category = $goal-category#safety "Safety"
* category.text = "Safety"
* description.text = "Exercise without a skeletal event: no new fracture and no neurological symptom before the review at 8 weeks."
* subject = Reference(Patient/example-patient)
* startDate = "2025-06-02"
* target.dueDate = "2025-07-28"

Instance: example-exercise-careplan
InstanceOf: BonemetExerciseCarePlan
Title: "Example: moderate-tier plan for a lytic rib lesion, trunk resistance and impact avoided"
Usage: #example
* text.status = #generated
* text.div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p><b>Bone-metastasis exercise and pain plan</b></p><p>Skeletal-risk tier moderate. Avoid trunk resistance exercise and impact exercise. Stop and call on new or worse pain, weakness or numbness.</p></div>"
* identifier.system = "http://fhir-bonemet.org/fhir/NamingSystem/careplan"
* identifier.value = "0f5e0b3c2a8d4e6f9a1b7c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f"
* contained[0] = example-plan-goal-safety
* status = #active
* intent = #plan
* category = $bonemet#bm-exercise "Bone-metastasis exercise plan"
* category.text = "Bone-metastasis exercise plan"
* title = "Bone-metastasis exercise and pain plan"
* description = "Skeletal-risk tier moderate"
* subject = Reference(Patient/example-patient)
* period.start = "2025-06-02"
* created = "2025-06-02"
* addresses = Reference(Condition/example-bone-metastasis-condition)
* supportingInfo = Reference(Observation/example-lesion-type)
* goal = Reference(goal-safety)
* goal.reference = "#goal-safety"
* activity[0].detail.code = $bonemet#ex-aerobic-wb "Weight-bearing aerobic exercise"
* activity[0].detail.goal.reference = "#goal-safety"
* activity[0].detail.status = #scheduled
* activity[0].detail.scheduledTiming.repeat.frequency = 3
* activity[0].detail.scheduledTiming.repeat.period = 1
* activity[0].detail.scheduledTiming.repeat.periodUnit = #wk
* activity[0].detail.performer.display = "Physiotherapist or clinical exercise physiologist with oncology training"
* activity[0].detail.description = "Walking or cycling at moderate intensity, supervised for the first sessions."
* activity[1].detail.code = $bonemet#ex-resist-trunk "Resistance exercise, trunk"
* activity[1].detail.goal.reference = "#goal-safety"
* activity[1].detail.status = #scheduled
* activity[1].detail.doNotPerform = true
* activity[1].detail.description = "Avoid: loaded trunk flexion and twisting load the lesion."
* activity[2].detail.code = $bonemet#ex-impact "Impact, high-velocity or contact exercise"
* activity[2].detail.goal.reference = "#goal-safety"
* activity[2].detail.status = #scheduled
* activity[2].detail.doNotPerform = true
* activity[2].detail.description = "Avoid: impact, high-velocity or contact exercise."
* activity[3].detail.code = $bonemet#stop-and-call "Stop exercising and contact the care team"
* activity[3].detail.goal.reference = "#goal-safety"
* activity[3].detail.status = #scheduled
* activity[3].detail.performer.display = "Patient and carers"
* activity[3].detail.description = "Stop and call the care team on new or worse bone pain, new weakness, numbness or bladder or bowel change."
* note[0].text = "Frequencies and review intervals are service defaults."
