// Invariants on components are stated at the resource root, where every validator evaluates them.
// Lesion-level scores and findings: each points at its bone-metastasis Condition through `focus` and
// names the site in `bodySite` (spinal level in bodySite.text), which is how the service ties a score to a
// lesion.  Totals are what the rules read; components are optional item scores an EHR may send.

RuleSet: LesionObservation(code)
* status MS
* code = $bonemet#{code}
* subject 1..1 MS
* subject only Reference(Patient)
* effective[x] 1..1 MS
* effective[x] only dateTime or Period
* focus MS
* focus only Reference(Condition)
* bodySite MS

RuleSet: ItemComponent(slice, code)
* component[{slice}].code = $bonemet#{code}
* component[{slice}].value[x] only integer
* component[{slice}].valueInteger 1..1

RuleSet: ComponentSlicing
* component ^slicing.discriminator.type = #pattern
* component ^slicing.discriminator.path = "code"
* component ^slicing.rules = #open
* component ^slicing.description = "Item scores, by code"

Profile: BonemetSinsObservation
Parent: Observation
Id: bonemet-sins
Title: "SINS (Spinal Instability Neoplastic Score)"
Description: "SINS total 0-18 for one spinal lesion (Fisher 2010), with the six item scores as optional components. SINS 7-12 is potentially unstable and 13-18 unstable: both lead to a surgical opinion."
* insert LesionObservation(sins-total)
* value[x] 1..1 MS
* value[x] only integer
* valueInteger obeys bonemet-sins-range
* insert ComponentSlicing
* component contains location 0..1 and pain 0..1 and lesion 0..1 and alignment 0..1 and collapse 0..1 and posterolateral 0..1
* insert ItemComponent(location, sins-location)
* insert ItemComponent(pain, sins-pain)
* insert ItemComponent(lesion, sins-lesion)
* insert ItemComponent(alignment, sins-alignment)
* insert ItemComponent(collapse, sins-collapse)
* insert ItemComponent(posterolateral, sins-posterolateral)
* obeys bonemet-sins-items and bonemet-sins-sum

Invariant: bonemet-sins-items
Description: "SINS items: location, pain, vertebral body collapse and posterolateral involvement 0-3, bone lesion 0-2, alignment 0-4."
Expression: "component.where(code.coding.code = 'sins-location' or code.coding.code = 'sins-pain' or code.coding.code = 'sins-collapse' or code.coding.code = 'sins-posterolateral').all(value.ofType(integer) >= 0 and value.ofType(integer) <= 3) and component.where(code.coding.code = 'sins-lesion').all(value.ofType(integer) >= 0 and value.ofType(integer) <= 2) and component.where(code.coding.code = 'sins-alignment').all(value.ofType(integer) >= 0 and value.ofType(integer) <= 4)"
Severity: #error

Invariant: bonemet-sins-range
Description: "SINS total is 0 to 18."
Expression: "$this >= 0 and $this <= 18"
Severity: #error

Invariant: bonemet-sins-sum
Description: "When all six SINS items are given, they add up to the total."
Expression: "(component.where(code.coding.code = 'sins-location').value.ofType(integer).exists() and component.where(code.coding.code = 'sins-pain').value.ofType(integer).exists() and component.where(code.coding.code = 'sins-lesion').value.ofType(integer).exists() and component.where(code.coding.code = 'sins-alignment').value.ofType(integer).exists() and component.where(code.coding.code = 'sins-collapse').value.ofType(integer).exists() and component.where(code.coding.code = 'sins-posterolateral').value.ofType(integer).exists()).not() or value.ofType(integer) = component.where(code.coding.code = 'sins-location').value.ofType(integer) + component.where(code.coding.code = 'sins-pain').value.ofType(integer) + component.where(code.coding.code = 'sins-lesion').value.ofType(integer) + component.where(code.coding.code = 'sins-alignment').value.ofType(integer) + component.where(code.coding.code = 'sins-collapse').value.ofType(integer) + component.where(code.coding.code = 'sins-posterolateral').value.ofType(integer)"
Severity: #error

Profile: BonemetMirelsObservation
Parent: Observation
Id: bonemet-mirels
Title: "Mirels score"
Description: "Mirels score 4-12 for one long-bone lesion (Mirels 1989), with the four item scores (site, pain, lesion, size; 1-3 each) as optional components. 8 or more marks an impending pathological fracture."
* insert LesionObservation(mirels-total)
* value[x] 1..1 MS
* value[x] only integer
* valueInteger obeys bonemet-mirels-range
* insert ComponentSlicing
* component contains site 0..1 and pain 0..1 and lesion 0..1 and size 0..1
* component[site].code = $bonemet#mirels-site
* component[pain].code = $bonemet#mirels-pain
* component[lesion].code = $bonemet#mirels-lesion
* component[size].code = $bonemet#mirels-size
* component[site].value[x] only integer
* component[pain].value[x] only integer
* component[lesion].value[x] only integer
* component[size].value[x] only integer
* obeys bonemet-mirels-items and bonemet-mirels-sum

Invariant: bonemet-mirels-items
Description: "Each Mirels item (site, pain, lesion, size) scores 1 to 3."
Expression: "component.where(code.coding.code = 'mirels-site' or code.coding.code = 'mirels-pain' or code.coding.code = 'mirels-lesion' or code.coding.code = 'mirels-size').all(value.ofType(integer) >= 1 and value.ofType(integer) <= 3)"
Severity: #error

Invariant: bonemet-mirels-range
Description: "A Mirels total is 4 to 12."
Expression: "$this >= 4 and $this <= 12"
Severity: #error

Invariant: bonemet-mirels-sum
Description: "When all four Mirels items are given, they add up to the total."
Expression: "(component.where(code.coding.code = 'mirels-site').value.ofType(integer).exists() and component.where(code.coding.code = 'mirels-pain').value.ofType(integer).exists() and component.where(code.coding.code = 'mirels-lesion').value.ofType(integer).exists() and component.where(code.coding.code = 'mirels-size').value.ofType(integer).exists()).not() or value.ofType(integer) = component.where(code.coding.code = 'mirels-site').value.ofType(integer) + component.where(code.coding.code = 'mirels-pain').value.ofType(integer) + component.where(code.coding.code = 'mirels-lesion').value.ofType(integer) + component.where(code.coding.code = 'mirels-size').value.ofType(integer)"
Severity: #error

ValueSet: BonemetLesionTypeValues
Id: bonemet-lesion-type-values
Title: "Bone lesion radiological types"
Description: "The values of a lesion-type Observation."
* $bonemet#lytic "Lytic"
* $bonemet#blastic "Blastic"
* $bonemet#mixed "Mixed"

Profile: BonemetLesionTypeObservation
Parent: Observation
Id: bonemet-lesion-type
Title: "Bone lesion radiological type"
Description: "Whether a bone metastasis is lytic, blastic or mixed on imaging (feeds SINS and Mirels lesion items and the exercise tier)."
* insert LesionObservation(lesion-type)
* value[x] 1..1 MS
* value[x] only CodeableConcept
* valueCodeableConcept from BonemetLesionTypeValues (required)

Instance: example-sins
InstanceOf: BonemetSinsObservation
Title: "Example: SINS 14 at T9 with its six items"
Usage: #example
* status = #final
* category = $obs-category#imaging "Imaging"
* code = $bonemet#sins-total "SINS total score"
* subject = Reference(Patient/example-patient)
* effectiveDateTime = "2025-05-23T09:00:00Z"
* focus = Reference(Condition/example-bone-metastasis-condition)
* bodySite = $sct#122495006 "Thoracic spine structure"
* bodySite.text = "T9"
* valueInteger = 14
* component[location].code = $bonemet#sins-location "SINS location item"
* component[location].valueInteger = 1
* component[pain].code = $bonemet#sins-pain "SINS pain item"
* component[pain].valueInteger = 3
* component[lesion].code = $bonemet#sins-lesion "SINS bone lesion item"
* component[lesion].valueInteger = 2
* component[alignment].code = $bonemet#sins-alignment "SINS spinal alignment item"
* component[alignment].valueInteger = 2
* component[collapse].code = $bonemet#sins-collapse "SINS vertebral body collapse item"
* component[collapse].valueInteger = 3
* component[posterolateral].code = $bonemet#sins-posterolateral "SINS posterolateral involvement item"
* component[posterolateral].valueInteger = 3

Instance: example-mirels
InstanceOf: BonemetMirelsObservation
Title: "Example: Mirels 9 at the left proximal femur with its four items"
Usage: #example
* status = #final
* category = $obs-category#imaging "Imaging"
* code = $bonemet#mirels-total "Mirels score"
* subject = Reference(Patient/example-patient)
* effectiveDateTime = "2025-05-23T09:00:00Z"
* focus = Reference(Condition/example-bone-metastasis-condition)
* bodySite = $sct#71341001 "Bone structure of femur"
* bodySite.text = "Left proximal femur"
* valueInteger = 9
* component[site].code = $bonemet#mirels-site "Mirels site item"
* component[site].valueInteger = 3
* component[pain].code = $bonemet#mirels-pain "Mirels pain item"
* component[pain].valueInteger = 2
* component[lesion].code = $bonemet#mirels-lesion "Mirels lesion item"
* component[lesion].valueInteger = 3
* component[size].code = $bonemet#mirels-size "Mirels size item"
* component[size].valueInteger = 1

Instance: example-lesion-type
InstanceOf: BonemetLesionTypeObservation
Title: "Example: lytic lesion at the left proximal femur"
Usage: #example
* status = #final
* category = $obs-category#imaging "Imaging"
* code = $bonemet#lesion-type "Bone lesion radiological type"
* subject = Reference(Patient/example-patient)
* effectiveDateTime = "2025-05-23T09:00:00Z"
* focus = Reference(Condition/example-bone-metastasis-condition)
* bodySite = $sct#71341001 "Bone structure of femur"
* valueCodeableConcept = $bonemet#lytic "Lytic"
